"""Streaming end to end through the clients: answers, upstream errors, truncation, cancellation."""

from __future__ import annotations

import json

import pytest
from chatplug import (
    StreamProtocolError,
    UpstreamError,
    UpstreamHTTPError,
)
from chatplug.testing import EmulatorFaultTests, Reply
from chatplug_vitalentum.emulator import REQUESTS

USER = "Grüße ✓ 日本"
SSE = {"Content-Type": "text/event-stream"}
DONE = b"data: [DONE]\n\n"


def event(text: str) -> bytes:
    chunk = {"choices": [{"index": 0, "delta": {"content": text}}]}
    return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"


async def test_async_client_streams_the_emulator_reply_in_pieces(emulator, client) -> None:
    upstream = await emulator()
    async with client(upstream.url).stream(USER, provider="vitalentum") as stream:
        pieces = [piece async for piece in stream]
    assert len(pieces) > 3
    assert "".join(pieces) == upstream.replies[-1]
    assert upstream.replies[-1].endswith(f"you said: {USER} (turn 1)")
    assert (stream.provider, stream.model) == ("vitalentum", "gpt-3.5-turbo")


async def test_model_addressed_as_provider_slash_model(emulator, client) -> None:
    upstream = await emulator()
    answer = await client(upstream.url).complete(USER, model="vitalentum/gpt-3.5-turbo")
    assert answer == upstream.replies[-1]


async def test_connection_is_reused_when_the_body_ends_just_after_done(
    scripted_upstream, client
) -> None:
    # A trailing chunk arrives after [DONE]; the plugin reads up to the end of the body so
    # that the connection goes back to the pool rather than being closed.
    reply = Reply(chunks=[event("a"), DONE, b"\n"], headers=SSE, delay=0.05, keep_alive=True)
    server = scripted_upstream(reply)
    shared = client(server.url)
    assert [await shared.complete(USER, provider="vitalentum") for _ in range(2)] == ["a", "a"]
    assert len(server.connections) == 1


async def test_keep_alive_comments_and_event_lines_are_skipped(scripted_upstream, client) -> None:
    chunks = [b": keep-alive\n\n", b"event: ping\n", b"\n", event("a✓"), b":\n\n", event("b"), DONE]
    server = scripted_upstream(Reply(chunks=chunks, headers=SSE))
    assert await client(server.url).complete(USER, provider="vitalentum") == "a✓b"


async def test_complete_raises_rather_than_return_a_truncated_answer(emulator, client) -> None:
    upstream = await emulator(truncate=True)
    with pytest.raises(StreamProtocolError):
        await client(upstream.url).complete(USER, provider="vitalentum")


@pytest.mark.parametrize("page", ["<html>maintenance</html>", "<html>maintenance</html>\n"])
async def test_a_body_without_any_event_is_reported_with_an_excerpt(
    scripted_upstream, client, page
) -> None:
    server = scripted_upstream(Reply.text(page, content_type="text/html"))
    with pytest.raises(StreamProtocolError, match=r"not a server-sent event stream.*maintenance"):
        await client(server.url).complete(USER, provider="vitalentum")


async def test_malformed_json_mid_stream_raises_after_partial_text(
    scripted_upstream, client
) -> None:
    chunks = [event("ok "), b"data: {not json}\n\n", event("lost"), DONE]
    server = scripted_upstream(Reply(chunks=[b"".join(chunks)], headers=SSE))
    with pytest.raises(StreamProtocolError, match="malformed JSON") as caught:
        await client(server.url).complete(USER, provider="vitalentum")
    assert caught.value.partial_length == 3


async def test_error_object_before_any_text_raises_upstream_error(
    scripted_upstream, client
) -> None:
    server = scripted_upstream(Reply.sse([{"error": {"message": "model overloaded"}}], done=False))
    with pytest.raises(UpstreamError, match="model overloaded"):
        await client(server.url).complete(USER, provider="vitalentum")


async def test_retries_a_500_then_streams(emulator, client) -> None:
    failing = await emulator(status=503)
    with pytest.raises(UpstreamHTTPError):
        await client(failing.url, retry=2).complete(USER, provider="vitalentum")
    assert len(failing.app[REQUESTS]) == 2


class TestFaults(EmulatorFaultTests):
    """HTTP errors, a truncated body, a dropped connection, an idle stall, cancellation and
    pooling."""

    provider = "vitalentum"
    truncated = "DONE"
    path = "/api/converse-edge"
