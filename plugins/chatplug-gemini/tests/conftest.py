"""Fixtures for chatplug-gemini's tests: a clean environment, the emulator, request builders."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, Sequence

import aiohttp
import pytest
from chatplug import CompletionRequest, Timeout
from chatplug.emulation import RunningEmulator
from chatplug.events import StreamItem
from chatplug.testing import plugin_fixtures
from chatplug_gemini import stream_completion
from chatplug_gemini.emulator import REQUESTS, create_app

KEY_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "MY_KEY", "VERTEX_GATEWAY_API_KEY")
HELLO = ({"role": "user", "content": "Hi ✓"},)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No API keys, proxies or configuration file from the environment."""
    for name in (*KEY_VARS, "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHATPLUG_PLUGINS", raising=False)
    monkeypatch.setenv("CHATPLUG_CONFIG", "")  # no configuration file
    yield


#: ``await start_emulator(**options)`` runs ``create_app(**options)`` for the test
StartEmulator = Callable[..., Awaitable[RunningEmulator]]
start_emulator = plugin_fixtures("gemini", create_app).emulator


@pytest.fixture
async def emulator(start_emulator: StartEmulator) -> RunningEmulator:
    """The Gemini emulator (default settings) on 127.0.0.1."""
    return await start_emulator()


def make_request(
    base_url: Optional[str],
    *,
    provider: str = "gemini",
    model: str = "gemini-2.0-flash",
    messages: Sequence[Dict[str, Any]] = HELLO,
    options: Optional[Dict[str, Any]] = None,
    settings: Optional[Dict[str, Any]] = None,
    proxy: Optional[str] = None,
    timeout: float = 20.0,
    **fields: Any,
) -> CompletionRequest:
    """A :class:`CompletionRequest` as the core builds it (``fields``: the 0.2 fields)."""
    return CompletionRequest(
        provider=provider,
        model=model,
        messages=tuple(messages),
        prompt="(unused)",
        options=options or {},
        proxy=proxy,
        base_url=base_url,
        timeout=Timeout.coerce(timeout),
        settings=settings or {},
        **fields,
    )


async def collect(request: CompletionRequest) -> List[StreamItem]:
    """Every item ``stream_completion`` yields for ``request``."""
    async with aiohttp.ClientSession() as session:
        return [item async for item in stream_completion(request=request, session=session)]


def text_of(items: Sequence[StreamItem]) -> str:
    return "".join(item for item in items if isinstance(item, str))


def of_type(items: Sequence[StreamItem], kind: type) -> List[Any]:
    return [item for item in items if isinstance(item, kind)]


def sent(emulator: RunningEmulator, index: int = -1) -> Dict[str, Any]:
    """A request the emulator received, its body decoded."""
    record = dict(emulator.app[REQUESTS][index])
    record["json"] = json.loads(record["body"])
    return record


def sse(*events: Any) -> bytes:
    """A Gemini ``alt=sse`` body from events (dicts are JSON-encoded)."""
    return b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\r\n\r\n"
        for e in events
    )


def chunk(
    *parts: Dict[str, Any],
    finish: Optional[str] = None,
    usage: Optional[Dict[str, int]] = None,
    **extra: Any,
) -> Dict[str, Any]:
    """One ``GenerateContentResponse``."""
    candidate: Dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    response: Dict[str, Any] = {"candidates": [candidate], **extra}
    if usage:
        response["usageMetadata"] = usage
    return response
