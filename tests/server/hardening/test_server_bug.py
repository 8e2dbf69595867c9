"""A bug in the server itself after a stream started still ends the body cleanly: one
``internal_error`` event and the chunked terminator (in-process: the bug is injected
through a client whose stream raises a plain exception, which no plugin can cause)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, AsyncIterator, Iterator, List

import pytest
from aiohttp import web
from chatplug import AsyncClient, CompletionRequest, ModelInfo, Registry, hookimpl
from chatplug.server import ChatplugRunner, create_app
from chatplug.stream import Stream
from rawhttp import RawConnection, chat

pytestmark = pytest.mark.timeout(30)


class Plugin:
    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo("m", "bug", default=True)]

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        yield "unused"


class BuggyClient(AsyncClient):
    """Its streams yield one piece, then fail the way a bug in the server would."""

    def stream(self, messages: Any, **kwargs: Any) -> Stream:
        async def source(progress: Any, events: bool) -> AsyncIterator[Any]:
            progress.provider, progress.model = "bug", "m"
            yield "first"
            raise RuntimeError("a bug in the server")

        return Stream(source)


@pytest.fixture
def url() -> Iterator[str]:
    registry = Registry(discover=False)
    registry.register("bug", Plugin())
    loop = asyncio.new_event_loop()
    client = BuggyClient(registry=registry)
    runner = ChatplugRunner(create_app(client, api_key="", access_log=False))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_a_server_bug_after_the_stream_started_ends_it_with_one_internal_error_event(
    url: str,
) -> None:
    with RawConnection.to(url) as connection:
        response = connection.request(chat("hello", stream=True, model="bug/m"))
        again = connection.request(chat("hello", stream=True, model="bug/m"))
    events = response.events()
    assert json.loads(events[-1])["error"]["code"] == "internal_error"
    assert sum('"error"' in event for event in events) == 1
    assert "[DONE]" not in events
    assert again.status == 200  # the connection is still fine
