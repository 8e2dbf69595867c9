"""The scripted upstream and the forward proxy of chatplug.testing."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from chatplug.testing import ForwardProxy, Reply, ScriptedUpstream, split_bytes, split_utf8


async def test_reply_chunks_arrive_as_scripted() -> None:
    async with ScriptedUpstream(Reply(chunks=[b"ab", b"cd"], delay=0.05)) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url + "/x") as response:
                pieces = [chunk async for chunk in response.content.iter_any()]
    assert b"".join(pieces) == b"abcd"
    assert len(pieces) == 2


async def test_requests_are_recorded_with_body_and_headers() -> None:
    async with ScriptedUpstream(Reply.json({"ok": True})) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                upstream.url + "/api/chat?x=1", json={"prompt": "hé"}, headers={"X-Test": "1"}
            ) as response:
                assert await response.json() == {"ok": True}
    [request] = upstream.requests
    assert request.method == "POST"
    assert request.path == "/api/chat"
    assert request.query == "x=1"
    assert request.headers["x-test"] == "1"
    assert request.json() == {"prompt": "hé"}


async def test_replies_are_served_in_order_and_the_last_repeats() -> None:
    script = (Reply.error(500, "boom"), Reply.text("ok"))
    async with ScriptedUpstream(*script) as upstream:
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(3):
                async with session.get(upstream.url) as response:
                    statuses.append(response.status)
    assert statuses == [500, 200, 200]


async def test_error_reply_sets_retry_after() -> None:
    async with ScriptedUpstream(Reply.error(429, "slow down", retry_after=7)) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url) as response:
                assert response.status == 429
                assert response.headers["Retry-After"] == "7"
                assert await response.text() == "slow down"


async def test_truncated_reply_is_a_payload_error_for_the_client() -> None:
    async with ScriptedUpstream(Reply.truncated(b"0123456789", 4)) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url) as response:
                with pytest.raises(aiohttp.ClientPayloadError):
                    await response.read()


async def test_reset_after_chunks_delivers_the_bytes_then_fails() -> None:
    reply = Reply(chunks=[b"partial"], end="reset")
    async with ScriptedUpstream(reply) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url) as response:
                first = await response.content.readany()
                with pytest.raises(aiohttp.ClientError):
                    await response.read()
    assert first == b"partial"


async def test_eof_framing_ends_cleanly_when_the_server_closes() -> None:
    async with ScriptedUpstream(Reply(chunks=[b"a", b"b"], framing="eof")) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url) as response:
                assert await response.read() == b"ab"
    assert upstream.connections[0].closed_by == "server"


async def test_hang_reports_the_client_closing_the_connection() -> None:
    async with ScriptedUpstream(Reply(chunks=[b"first"], end="hang")) as upstream:
        async with aiohttp.ClientSession() as session:
            response = await session.get(upstream.url)
            assert await response.content.readany() == b"first"
            assert not upstream.client_closed()
            response.close()
            assert await upstream.wait_client_closed(5)
    assert upstream.connections[0].closed_by == "client"


async def test_handler_chooses_the_reply_per_request() -> None:
    def handler(request: object) -> Reply:
        return Reply.text(getattr(request, "path", ""))

    async with ScriptedUpstream(handler=handler) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url + "/p/q") as response:
                assert await response.text() == "/p/q"


async def test_head_delay_holds_back_the_status_line() -> None:
    async with ScriptedUpstream(Reply.text("x", head_delay=0.3)) as upstream:
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            async with session.get(upstream.url) as response:
                await response.read()
            assert time.monotonic() - started >= 0.25


async def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    async with ScriptedUpstream(Reply.text("x", keep_alive=True)) as upstream:
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.get(upstream.url) as response:
                    await response.read()
    assert len(upstream.requests) == 3
    assert len(upstream.connections) == 1


def test_runs_from_a_thread_for_synchronous_code() -> None:
    async def fetch(url: str) -> str:
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                return await response.text()

    with ScriptedUpstream(Reply.text("thread")) as upstream:
        assert asyncio.run(fetch(upstream.url)) == "thread"
    assert len(upstream.requests) == 1


def test_split_utf8_cuts_inside_every_multibyte_character() -> None:
    data = "aé€😀".encode()
    pieces = split_utf8(data)
    assert b"".join(pieces) == data
    for piece in pieces[:-1]:
        with pytest.raises(UnicodeDecodeError):
            piece[-1:].decode()
    assert len(pieces) == 4


def test_split_bytes_cycles_sizes() -> None:
    assert split_bytes(b"abcdefg", [1, 2]) == [b"a", b"bc", b"d", b"ef", b"g"]


async def test_forward_proxy_forwards_and_records() -> None:
    async with ScriptedUpstream(Reply.text("via proxy")) as upstream, ForwardProxy() as proxy:
        async with aiohttp.ClientSession() as session:
            async with session.post(upstream.url + "/a", json={}, proxy=proxy.url) as response:
                assert await response.text() == "via proxy"
    assert proxy.urls() == [upstream.url + "/a"]
    assert upstream.requests[0].path == "/a"


async def test_forward_proxy_refuses_non_loopback_targets() -> None:
    async with ForwardProxy() as proxy:
        async with aiohttp.ClientSession() as session:
            async with session.get("http://example.invalid/", proxy=proxy.url) as response:
                assert response.status == 403
