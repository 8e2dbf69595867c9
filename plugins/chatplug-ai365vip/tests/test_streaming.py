"""Streaming end to end: plain-text chunks as they arrive, UTF-8 splits, errors, cancellation."""

from __future__ import annotations

from typing import List

import pytest
from chatplug import (
    Client,
    Registry,
    StreamProtocolError,
    UpstreamConnectionError,
)
from chatplug.testing import EmulatorFaultTests, Reply, ScriptedUpstream, split_utf8
from hypothesis import given, settings
from hypothesis import strategies as st

USER = "Grüße ✓ 日本"
TEXT = "Héllo, wörld ✓ — 日本語 🎉\nsecond line ✓"
PLAIN = "text/plain; charset=utf-8"


async def test_async_client_streams_the_emulator_reply(emulator, client) -> None:
    upstream = await emulator()
    async with client(upstream.url).stream(USER, provider="ai365vip") as stream:
        pieces = [piece async for piece in stream]
    assert "".join(pieces) == upstream.replies[-1]
    assert upstream.replies[-1] == (
        f"Hello from the AI365VIP emulator ✓ — you said: {USER} (turn 1, GPT-3.5-16K)"
    )
    assert (stream.provider, stream.model) == ("ai365vip", "gpt-3.5-turbo")


async def test_text_is_yielded_as_bytes_arrive_not_at_newlines(scripted_upstream, client) -> None:
    # The original client read the body line by line: nothing came out before a newline.
    server = scripted_upstream(
        Reply(
            chunks=[b"no newline yet \xe2\x9c", b"\x93 then more\n"],
            headers={"Content-Type": PLAIN},
            delay=1.0,
        )
    )
    async with client(server.url).stream(USER, provider="ai365vip") as stream:
        first = await stream.__anext__()  # the second chunk comes a second later
        rest = [piece async for piece in stream]
    assert first == "no newline yet "  # a line reader would give the whole line at once
    assert "".join([first, *rest]) == "no newline yet ✓ then more\n"


async def test_characters_split_across_chunks_decode_whole(scripted_upstream, client) -> None:
    data = TEXT.encode()
    server = scripted_upstream(Reply(chunks=split_utf8(data), headers={"Content-Type": PLAIN}))
    assert await client(server.url).complete(USER, provider="ai365vip") == TEXT


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(TEXT.encode())), max_size=12))
def test_any_split_of_the_body_gives_the_same_text(shared_upstream, cuts: List[int]) -> None:
    upstream, sync_client = shared_upstream
    data = TEXT.encode()
    points = sorted({0, len(data), *cuts})
    chunks = [data[a:b] for a, b in zip(points, points[1:])]
    upstream.push(Reply(chunks=chunks, headers={"Content-Type": PLAIN}))
    assert sync_client.complete(USER, provider="ai365vip") == TEXT


@pytest.fixture(scope="module")
def shared_upstream():  # type: ignore[no-untyped-def]
    """One scripted upstream (in a thread) and one sync client for the hypothesis examples."""
    with ScriptedUpstream() as upstream:  # each example pushes its reply
        registry = Registry(enabled=["ai365vip"])
        with Client(registry=registry, base_urls={"ai365vip": upstream.url}, retry=1) as sync:
            yield upstream, sync


async def test_empty_body_is_an_error_not_an_empty_answer(scripted_upstream, client) -> None:
    server = scripted_upstream(Reply(chunks=[], headers={"Content-Type": PLAIN}))
    with pytest.raises(StreamProtocolError):
        await client(server.url).complete(USER, provider="ai365vip")


async def test_body_shorter_than_its_content_length_is_an_error(scripted_upstream, client) -> None:
    server = scripted_upstream(
        Reply.truncated("complete answer ✓", 9, headers={"Content-Type": PLAIN})
    )
    with pytest.raises(UpstreamConnectionError) as caught:
        await client(server.url).complete(USER, provider="ai365vip")
    assert caught.value.partial_length == 9


class TestFaults(EmulatorFaultTests):
    """HTTP errors, a truncated body, a dropped connection, an idle stall, cancellation and
    pooling."""

    provider = "ai365vip"
    truncated = "UTF-8"
    path = "/api/chat"
