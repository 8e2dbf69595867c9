"""Fixtures for chatplug-ollama's tests: a clean environment, a private cache, requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional

import aiohttp
import pytest
from chatplug import CompletionRequest, ModelInfo, Timeout, hookimpl
from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.events import ResponseMetadata, StreamItem
from chatplug.testing import make_sync_client
from chatplug_ollama import stream_completion
from chatplug_ollama.emulator import create_app

KEY_VARS = ("OLLAMA_API_KEY", "GPU_BOX_API_KEY", "MY_KEY")
MODEL = "llama3.2"


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No API keys, proxies or configuration file from the environment; a private cache."""
    for name in (*KEY_VARS, "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHATPLUG_PLUGINS", raising=False)
    monkeypatch.setenv("CHATPLUG_CONFIG", "")
    cache = tmp_path / "cache"
    monkeypatch.setenv("CHATPLUG_CACHE_DIR", str(cache))
    yield cache


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """The Ollama emulator (default settings) on 127.0.0.1."""
    async with run_emulator(create_app()) as running:
        yield running


def make_request(
    base_url: Optional[str],
    messages: Optional[List[Dict[str, Any]]] = None,
    **fields: Any,
) -> CompletionRequest:
    """A :class:`CompletionRequest` as the core builds it (typed fields as keywords)."""
    fields.setdefault("timeout", Timeout.coerce(20.0))
    return CompletionRequest(
        provider=fields.pop("provider", "ollama"),
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


def ndjson(*records: Dict[str, Any]) -> bytes:
    """An NDJSON body: one JSON record a line."""
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def core_reads_events() -> bool:
    """Whether the installed core consumes contract 0.2 events (keeps them out of the text).

    Until it does, the client hands every item to the caller as text, so the checks that
    stream through a client see this plugin's text only through :class:`TextOnly`.
    """

    class Probe:
        @hookimpl
        def list_models(self) -> List[ModelInfo]:
            return [ModelInfo("m", "probe", default=True)]

        @hookimpl
        async def stream_completion(self, request: Any, session: Any) -> AsyncIterator[Any]:
            yield ResponseMetadata("probe")
            yield "ok"

    client = make_sync_client("probe", Probe())
    try:
        return bool(client.complete("x") == "ok")
    except Exception:
        return False
    finally:
        client.close()


class TextOnly:
    """This plugin's hooks with the events left out: what a text-only core consumes."""

    def __init__(self, plugin: Any) -> None:
        self.plugin = plugin

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return self.plugin.list_models()  # type: ignore[no-any-return]

    @hookimpl
    async def stream_completion(self, request: Any, session: Any) -> AsyncIterator[str]:
        async for item in self.plugin.stream_completion(request=request, session=session):
            if isinstance(item, str):
                yield item
