"""Fixtures for chatplug-openai's tests: a clean environment, request builders, collectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional

import aiohttp
import pytest
from chatplug import CompletionRequest, Timeout
from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.events import StreamItem
from chatplug_openai import stream_completion
from chatplug_openai.emulator import create_app

KEY_VARS = ("OPENAI_API_KEY", "OLLAMA_API_KEY", "MY_KEY", "GROQ_API_KEY")


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No API keys, proxies or config file from the environment; a private model cache."""
    for name in (*KEY_VARS, "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHATPLUG_PLUGINS", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CHATPLUG_CACHE_DIR", str(cache))
    monkeypatch.setenv("CHATPLUG_CONFIG", "")  # no configuration file
    yield cache


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """The OpenAI emulator (default settings) on 127.0.0.1."""
    async with run_emulator(create_app()) as running:
        yield running


def make_request(
    base_url: Optional[str],
    *,
    provider: str = "openai",
    model: str = "gpt-4o-mini",
    messages: Optional[List[Dict[str, Any]]] = None,
    options: Optional[Dict[str, Any]] = None,
    settings: Optional[Dict[str, Any]] = None,
    proxy: Optional[str] = None,
    timeout: float = 20.0,
    **fields: Any,
) -> CompletionRequest:
    """A :class:`CompletionRequest` as the core builds it (``fields``: the typed ones)."""
    conversation = tuple(messages or [{"role": "user", "content": "Hi ✓"}])
    return CompletionRequest(
        provider=provider,
        model=model,
        messages=conversation,
        prompt="(unused)",
        options=options or {},
        proxy=proxy,
        base_url=base_url,
        timeout=Timeout.coerce(timeout),
        settings=settings or {},
        **fields,
    )


async def collect(request: CompletionRequest) -> List[StreamItem]:
    """Everything the ``stream_completion`` hook yields for ``request``."""
    async with aiohttp.ClientSession() as session:
        return [item async for item in stream_completion(request=request, session=session)]


def texts(items: List[StreamItem]) -> List[str]:
    """The text pieces among ``items``."""
    return [item for item in items if isinstance(item, str)]


def of_type(items: List[StreamItem], kind: type) -> List[Any]:
    """The items of one event type."""
    return [item for item in items if isinstance(item, kind)]


def sse(*events: Any, done: bool = True) -> bytes:
    """An OpenAI SSE body from events (dicts are JSON-encoded)."""
    body = b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n"
        for e in events
    )
    return body + (b"data: [DONE]\n\n" if done else b"")


def chunk(
    content: Optional[str] = None, finish: Optional[str] = None, **delta: Any
) -> Dict[str, Any]:
    """One ``chat.completion.chunk`` event."""
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
