"""open_stream: the rest of the body is read after the end marker, errors can be customized."""

from __future__ import annotations

from typing import Any, List

import aiohttp
import pytest
from chatplug import CompletionRequest, Timeout, UpstreamHTTPError, open_stream
from chatplug.http import redact
from chatplug.openai_chunks import iter_chat_chunks
from chatplug.testing import Reply, ScriptedUpstream

CHUNK = b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n'
DONE = b"data: [DONE]\n\n"


def request(provider: str = "acme") -> CompletionRequest:
    return CompletionRequest(
        provider, "m", ({"role": "user", "content": "hi"},), "hi", timeout=Timeout(5, 5, 5, 10)
    )


def reply(*chunks: bytes, delay: float = 0.05) -> Reply:
    """A kept-alive SSE response whose last chunk comes ``delay`` seconds after [DONE]."""
    return Reply(
        chunks=chunks, delay=delay, keep_alive=True, headers={"Content-Type": "text/event-stream"}
    )


async def stream_to_done(session: aiohttp.ClientSession, url: str) -> List[Any]:
    async with open_stream(session, request(), "POST", url + "/chat", json={}) as response:
        return [item async for item in iter_chat_chunks(response)]


async def test_a_block_ended_at_the_end_marker_reads_the_rest_and_reuses_the_connection() -> None:
    async with ScriptedUpstream(reply(CHUNK + DONE, b": trailing comment\n\n")) as upstream:
        async with aiohttp.ClientSession() as session:
            assert await stream_to_done(session, upstream.url) == ["hi"]
            assert await stream_to_done(session, upstream.url) == ["hi"]
    assert len(upstream.requests) == 2
    assert len(upstream.connections) == 1


async def test_a_block_left_by_an_exception_closes_the_connection_without_reading() -> None:
    async with ScriptedUpstream(reply(CHUNK + DONE, b": trailing\n\n", delay=0.5)) as upstream:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(KeyError):
                async with open_stream(
                    session, request(), "POST", upstream.url, json={}
                ) as response:
                    await response.content.readany()
                    raise KeyError("stop")
            assert await upstream.wait_client_closed(5)


async def test_on_error_builds_the_error_of_an_error_status() -> None:
    async def on_error(response: aiohttp.ClientResponse) -> Exception:
        return UpstreamHTTPError(f"custom {await response.text()}", status=response.status)

    async with ScriptedUpstream(Reply.error(418, "teapot")) as upstream:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(UpstreamHTTPError, match="custom teapot") as caught:
                async with open_stream(
                    session, request(), "POST", upstream.url, json={}, on_error=on_error
                ):
                    pass  # pragma: no cover
    assert caught.value.status == 418


def test_redact_replaces_every_occurrence_of_the_secret() -> None:
    assert redact("key sk-1 and sk-1", "sk-1") == "key [redacted] and [redacted]"
    assert redact("nothing", None) == "nothing"
