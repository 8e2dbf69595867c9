"""The server in front of every installed emulator (``running_emulators``): offline, each
provider answers through the OpenAI API."""

from __future__ import annotations

from typing import AsyncIterator, Dict, List, Tuple

import pytest
from chatplug import AsyncClient, Registry
from chatplug.emulation import run_emulator
from chatplug.errors import ChatplugError
from chatplug.server import create_app
from chatplug.server.emulators import emulated_providers, installed_emulators, running_emulators
from http_helpers import chat, post

SEED_PROVIDERS = ["ai365vip", "aichatonline", "openai", "vitalentum"]


def default_models() -> List[Tuple[str, str]]:
    registry = Registry(enabled=None)
    found = []
    for name in emulated_providers(None):
        models = registry.models(name)
        model = next((m for m in models if m.default), models[0])
        found.append((name, model.qualified_id))
    return found


@pytest.fixture
async def offline() -> AsyncIterator[Tuple[str, Dict[str, str]]]:
    """The app with every installed emulator, served on 127.0.0.1: its URL and the
    emulators' base URLs."""
    async with running_emulators(emulated_providers(None)) as urls:
        async with AsyncClient(base_urls=urls, config=False, retry=1) as client:
            async with run_emulator(create_app(client, api_key="", access_log=False)) as served:
                yield served.root, urls


def test_the_seed_providers_ship_emulators() -> None:
    assert set(SEED_PROVIDERS) <= set(installed_emulators())


@pytest.mark.parametrize("provider, model", default_models())
async def test_every_emulated_provider_answers_through_the_server(
    offline: Tuple[str, Dict[str, str]], provider: str, model: str
) -> None:
    base, urls = offline
    assert urls[provider].startswith("http://127.0.0.1:")
    answer = await post(base, chat("hello offline", model=model, stream=True))
    assert answer.status == 200, answer.body
    assert answer.headers["x-chatplug-provider"] == provider
    text = "".join(
        event["choices"][0]["delta"].get("content") or ""
        for event in answer.body
        if isinstance(event, dict) and event.get("choices")
    )
    assert text
    assert answer.body[-1] == "[DONE]"


def test_named_providers_must_ship_an_emulator() -> None:
    with pytest.raises(ChatplugError, match="no emulator for 'nope'"):
        emulated_providers(["nope"])


def test_names_are_kept_in_order_once() -> None:
    assert emulated_providers(["vitalentum", "openai", "vitalentum"]) == ["vitalentum", "openai"]


def test_without_names_only_enabled_providers_are_emulated() -> None:
    assert emulated_providers(None, enabled=["openai", "other"]) == ["openai"]
