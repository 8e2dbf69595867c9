"""Fixtures for chatplug-anthropic's tests: a clean environment, requests, event bodies."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional

import aiohttp
import pytest
from chatplug import CompletionRequest, Timeout
from chatplug.emulation import RunningEmulator
from chatplug.events import StreamItem
from chatplug.testing import plugin_fixtures
from chatplug_anthropic import stream_completion
from chatplug_anthropic.emulator import create_app

KEY_VARS = ("ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "MY_KEY")
MODEL = "claude-sonnet-4-5-20250929"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No API keys, proxies or configuration file from the environment."""
    for name in (*KEY_VARS, "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHATPLUG_PLUGINS", raising=False)
    monkeypatch.setenv("CHATPLUG_CONFIG", "")
    yield


#: ``await start_emulator(**options)`` runs ``create_app(**options)`` for the test
StartEmulator = Callable[..., Awaitable[RunningEmulator]]
start_emulator = plugin_fixtures("anthropic", create_app).emulator


@pytest.fixture
async def emulator(start_emulator: StartEmulator) -> RunningEmulator:
    """The Anthropic emulator (default settings) on 127.0.0.1."""
    return await start_emulator()


def make_request(
    base_url: Optional[str],
    messages: Optional[List[Dict[str, Any]]] = None,
    **fields: Any,
) -> CompletionRequest:
    """A :class:`CompletionRequest` as the core builds it (typed fields as keywords)."""
    fields.setdefault("timeout", Timeout.coerce(20.0))
    return CompletionRequest(
        provider=fields.pop("provider", "anthropic"),
        model=fields.pop("model", MODEL),
        messages=tuple(messages or [{"role": "user", "content": "Hi ✓"}]),
        prompt="(unused)",
        base_url=base_url,
        **fields,
    )


async def collect(request: CompletionRequest) -> List[StreamItem]:
    """Every item the plugin's ``stream_completion`` hook yields for ``request``."""
    async with aiohttp.ClientSession() as session:
        return [item async for item in stream_completion(request=request, session=session)]


def text_of(items: List[StreamItem]) -> str:
    return "".join(item for item in items if isinstance(item, str))


def events(*values: Dict[str, Any]) -> bytes:
    """A Messages API SSE body: each value's ``type`` is also its ``event:`` name."""
    return b"".join(
        f"event: {value['type']}\ndata: {json.dumps(value)}\n\n".encode() for value in values
    )
