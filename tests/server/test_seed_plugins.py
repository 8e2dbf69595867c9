"""The openai SDK through ``chatplug serve`` to each installed seed plugin's emulator."""

from __future__ import annotations

import os
from typing import Dict, Iterator, Tuple

import openai
import pytest
from chatplug.emulation import EmulatorThread, RunningEmulator, emulator_factory
from chatplug.registry import EMULATOR_GROUP, Registry, entry_points
from server_harness import ServerProcess, start_server_with

SEEDS = ("vitalentum", "ai365vip", "aichatonline")
INSTALLED = {entry.name for entry in entry_points(EMULATOR_GROUP)}
AVAILABLE = [name for name in SEEDS if name in INSTALLED]

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="no seed plugin installed")


def default_model(provider: str) -> str:
    return Registry(enabled=[provider]).provider(provider).default_model.qualified_id


@pytest.fixture(scope="module")
def seeds() -> Iterator[Dict[str, RunningEmulator]]:
    threads = {name: EmulatorThread(emulator_factory(name)()) for name in AVAILABLE}
    running = {name: thread.__enter__() for name, thread in threads.items()}
    try:
        yield running
    finally:
        for thread in threads.values():
            thread.__exit__(None, None, None)


@pytest.fixture(scope="module")
def seed_server(seeds: Dict[str, RunningEmulator]) -> Iterator[ServerProcess]:
    env = dict(
        os.environ, CHATPLUG_PLUGINS=",".join(AVAILABLE), CHATPLUG_CONFIG="", PYTHONUNBUFFERED="1"
    )
    env.pop("CHATPLUG_API_KEY", None)
    urls: Tuple[str, ...] = ()
    for name, emulator in seeds.items():
        urls += ("--base-url", f"{name}={emulator.url}")
    process = start_server_with(env, *urls)
    yield process
    process.stop()


@pytest.mark.parametrize("provider", AVAILABLE)
def test_seed_plugin_completion_through_the_server(
    provider: str, seeds: Dict[str, RunningEmulator], seed_server: ServerProcess
) -> None:
    messages = [{"role": "user", "content": f"Say hello to {provider}"}]
    with openai.OpenAI(base_url=f"{seed_server.url}/v1", api_key="x", max_retries=0) as client:
        completion = client.chat.completions.create(
            model=default_model(provider), messages=messages
        )
    assert completion.model.startswith(f"{provider}/")  # aliases resolve to the real id
    assert completion.choices[0].message.content == seeds[provider].replies[-1]


@pytest.mark.parametrize("provider", AVAILABLE)
async def test_seed_plugin_stream_through_the_server(
    provider: str, seeds: Dict[str, RunningEmulator], seed_server: ServerProcess
) -> None:
    messages = [
        {"role": "system", "content": "Be nice."},
        {"role": "user", "content": "Stream something with ünïcødé"},
    ]
    async with openai.AsyncOpenAI(
        base_url=f"{seed_server.url}/v1", api_key="x", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(
            model=default_model(provider), messages=messages, stream=True
        )
        texts = [chunk.choices[0].delta.content or "" async for chunk in stream]
    assert "".join(texts) == seeds[provider].replies[-1]
