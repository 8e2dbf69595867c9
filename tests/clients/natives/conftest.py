"""Official clients (the openai SDK, the OpenAI Agents SDK, the anthropic SDK) against
``chatplug serve`` (a subprocess) in front of the three native plugins, chatplug-anthropic,
chatplug-gemini and chatplug-ollama, each pointed at its emulator (a thread of the test
process, so that tests can read what it received and ask it what it reports)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Dict, Iterator

import pytest
from chatplug.emulation import EmulatorThread, RunningEmulator, emulator_factory

HERE = Path(__file__).parent
HARNESS = HERE.parent.parent / "server" / "fakeplugin"
TRANSLATED = HERE.parent / "translated"  # translated_kit: conversations after a tool call
for folder in (HERE, HARNESS, TRANSLATED):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from natives_kit import MODELS, PROVIDERS, Native, requests_of  # noqa: E402
from server_harness import ServerProcess, start_server_with  # noqa: E402


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Dict[str, RunningEmulator]]:
    """Each native plugin's emulator (no key needed), by provider id."""
    for provider in PROVIDERS:
        pytest.importorskip(f"chatplug_{provider}", reason=f"chatplug-{provider} is not installed")
    with contextlib.ExitStack() as stack:
        yield {
            provider: stack.enter_context(EmulatorThread(emulator_factory(provider)()))
            for provider in PROVIDERS
        }


@pytest.fixture(scope="session")
def serve(
    upstreams: Dict[str, RunningEmulator], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """``chatplug serve`` routing each native provider to its emulator, with no keys and
    the built-in model catalogues (an empty cache directory)."""
    env = dict(os.environ, CHATPLUG_PLUGINS=",".join(PROVIDERS), CHATPLUG_CONFIG="")
    for name in list(env):
        if name.endswith(("_API_KEY", "_BASE_URL")):
            env.pop(name)
    env.update(
        PYTHONUNBUFFERED="1", CHATPLUG_CACHE_DIR=str(tmp_path_factory.mktemp("chatplug-cache"))
    )
    routes = [
        option
        for provider in PROVIDERS
        for option in ("--base-url", f"{provider}={upstreams[provider].url}")
    ]
    process = start_server_with(env, *routes, "--retries", "0")
    yield process
    process.stop()


@pytest.fixture
def base_url(serve: ServerProcess) -> str:
    """The OpenAI base URL of the server (``.../v1``)."""
    return f"{serve.url}/v1"


def _native(provider: str, upstreams: Dict[str, RunningEmulator]) -> Native:
    upstream = upstreams[provider]
    requests_of(provider, upstream).clear()
    return Native(provider, MODELS[provider], upstream)


@pytest.fixture(params=PROVIDERS)
def native(request: pytest.FixtureRequest, upstreams: Dict[str, RunningEmulator]) -> Native:
    """Each native provider in turn, its emulator's request log emptied for the test."""
    return _native(request.param, upstreams)


@pytest.fixture(params=["gemini", "ollama"])
def gemini_or_ollama(
    request: pytest.FixtureRequest, upstreams: Dict[str, RunningEmulator]
) -> Native:
    """chatplug-gemini, then chatplug-ollama (chatplug-anthropic has these clients' tests in
    ``tests/clients/translated``), the emulator's request log emptied for the test."""
    return _native(request.param, upstreams)
