"""Cancellation and cleanup: every way of stopping a stream releases its connection.

Checked from both sides: the client's connector has nothing checked out, and the scripted
upstream saw the client close the connection.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import pytest
from chatplug import Client, Timeout, UpstreamTimeoutError
from chatplug.testing import ScriptedUpstream
from faultkit import (
    FAST_TIMEOUT,
    KINDS,
    MODEL,
    Registry,
    acquired,
    make_client,
    settle,
    sse_event,
    sse_ok,
    stream,
)

pytestmark = pytest.mark.timeout(20)

one_event_then_stall = stream(sse_event("first "), end="hang")


# --------------------------------------------------------------------------- async client


async def test_breaking_out_of_a_stream_context_releases_the_connection_at_once() -> None:
    async with ScriptedUpstream(one_event_then_stall) as up:
        async with make_client({"a": ("sse", up.url)}) as client:
            async with client.stream("hi") as stream:
                async for piece in stream:
                    assert piece == "first "
                    break
            assert acquired(client) == 0  # no waiting, no finalizer needed
            assert await up.wait_client_closed()


async def test_breaking_out_of_a_bare_async_for_releases_the_connection() -> None:
    async with ScriptedUpstream(one_event_then_stall) as up:
        async with make_client({"a": ("sse", up.url)}) as client:
            async for _ in client.stream("hi"):
                break
            assert await up.wait_client_closed()  # the event loop's async-generator finalizer
            assert await settle(client) == 0


async def test_cancelling_the_task_mid_stream_releases_the_connection() -> None:
    received = asyncio.Event()

    async def consume(client: Any) -> None:
        async for _ in client.stream("hi"):
            received.set()

    async with ScriptedUpstream(one_event_then_stall) as up:
        async with make_client({"a": ("sse", up.url)}) as client:
            task = asyncio.ensure_future(consume(client))
            await asyncio.wait_for(received.wait(), 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await up.wait_client_closed()
            assert await settle(client) == 0


stall_after_headers = stream(end="hang")


async def test_cancelling_before_the_first_byte_is_a_cancellation_not_a_timeout() -> None:
    timeout = Timeout(connect=1.0, first_byte=0.4, idle=5.0)
    async with ScriptedUpstream(stall_after_headers) as up:
        async with make_client({"a": ("sse", up.url)}, timeout=timeout) as client:
            task = asyncio.ensure_future(client.complete("hi"))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.5)  # past the first-byte deadline: no stray cancel fires
            assert await settle(client) == 0
            assert await up.wait_client_closed()


async def test_a_callers_own_wait_for_releases_the_connection() -> None:
    async with ScriptedUpstream(stall_after_headers) as up:
        async with make_client({"a": ("sse", up.url)}, timeout=Timeout(first_byte=5)) as client:
            with pytest.raises(asyncio.TimeoutError) as raised:
                await asyncio.wait_for(client.complete("hi"), 0.3)
            assert not isinstance(raised.value, UpstreamTimeoutError)
            assert await up.wait_client_closed()
            assert await settle(client) == 0


async def test_fifty_abandoned_streams_leave_nothing_checked_out() -> None:
    async with ScriptedUpstream(one_event_then_stall) as up:
        async with make_client({"a": ("sse", up.url)}) as client:

            async def first_piece() -> str:
                async with client.stream("hi") as stream:
                    async for piece in stream:
                        return piece
                return ""

            pieces = await asyncio.gather(*[first_piece() for _ in range(50)])
            assert pieces == ["first "] * 50
            assert acquired(client) == 0
            assert await up.wait_client_closed(count=50)


async def test_a_completed_stream_returns_its_connection_to_the_pool_for_reuse() -> None:
    async with ScriptedUpstream(sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}) as client:
            assert await client.complete("one") == "Hello wörld"
            assert await client.complete("two") == "Hello wörld"
            assert acquired(client) == 0
            assert len(up.connections) == 1  # one pooled keep-alive connection served both


async def test_closing_the_client_closes_pooled_connections() -> None:
    async with ScriptedUpstream(sse_ok()) as up:
        client = make_client({"a": ("sse", up.url)})
        async with client:
            await client.complete("hi")
        assert await up.wait_client_closed()


# --------------------------------------------------------------------------- sync client


@pytest.fixture
def sync_client() -> Iterator[Any]:
    clients = []

    def make(url: str, **kwargs: Any) -> Client:
        registry = Registry(discover=False)
        registry.register("a", KINDS["sse"]("a"))
        options: Any = {"timeout": FAST_TIMEOUT, "retry": 1, **kwargs}
        client = Client(registry=registry, base_urls={"a": url}, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def sync_acquired(client: Client) -> int:
    return acquired(client.async_client)


def test_breaking_out_of_the_sync_client_releases_the_connection(sync_client: Any) -> None:
    with ScriptedUpstream(one_event_then_stall) as up:
        client = sync_client(up.url)
        for piece in client.stream("hi", model=MODEL):
            assert piece == "first "
            break
        assert sync_acquired(client) == 0
        assert up.wait_client_closed_sync()


def test_ctrl_c_in_the_sync_client_releases_the_connection(sync_client: Any) -> None:
    with ScriptedUpstream(one_event_then_stall) as up:
        client = sync_client(up.url, timeout=Timeout(first_byte=5, idle=5))

        def interrupt() -> None:
            raise KeyboardInterrupt

        pieces = []
        stream = client.stream("hi")
        with pytest.raises(KeyboardInterrupt):
            for piece in stream:
                pieces.append(piece)
                client._loop.call_later(0.2, interrupt)  # a Ctrl-C while waiting upstream
        assert pieces == ["first "]
        stream.close()  # type: ignore[attr-defined]
        assert sync_acquired(client) == 0
        assert up.wait_client_closed_sync()
        client.close()  # and the client still closes cleanly


def test_the_sync_client_is_usable_after_a_ctrl_c(sync_client: Any) -> None:
    with ScriptedUpstream(one_event_then_stall, sse_ok()) as up:
        client = sync_client(up.url, timeout=Timeout(first_byte=5, idle=5))
        stream = client.stream("hi")
        assert next(stream) == "first "
        client._loop.call_later(0.2, _raise_keyboard_interrupt)
        with pytest.raises(KeyboardInterrupt):
            next(stream)
        stream.close()  # type: ignore[attr-defined]
        assert client.complete("again") == "Hello wörld"
        assert sync_acquired(client) == 0


def _raise_keyboard_interrupt() -> None:
    raise KeyboardInterrupt
