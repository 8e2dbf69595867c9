"""The scripted upstream and the forward proxy of chatplug.testing."""

from __future__ import annotations

import asyncio
import select
import socket
import struct
import time

import aiohttp
import pytest
from aiohttp import web
from chatplug.decoders import iter_sse
from chatplug.emulation import EmulatorThread
from chatplug.testing import (
    ForwardProxy,
    Reply,
    ScriptedUpstream,
    SSEEvent,
    split_bytes,
    split_utf8,
)


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


def test_a_client_resetting_mid_body_is_recorded_as_the_client_closing() -> None:
    reply = Reply(chunks=[b"x" * 65536] * 160)  # 10 MB: the server is still writing
    with ScriptedUpstream(reply) as upstream:
        port = int(upstream.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            client.recv(65536)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert upstream.wait_client_closed_sync()
        [connection] = upstream.connections
        assert connection.closed_by == "client"
        assert upstream.bytes_sent < 160 * 65536


async def test_end_delay_pauses_between_the_last_chunk_and_the_end() -> None:
    reply = Reply(chunks=[b"abc"], framing="eof", end_delay=0.3, end="close")
    async with ScriptedUpstream(reply) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url) as response:
                first = await response.content.readany()
                started = time.monotonic()
                rest = await response.content.read()
                waited = time.monotonic() - started
    assert (first, rest) == (b"abc", b"")
    assert waited >= 0.25


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


async def test_sse_scripts_named_events_ids_and_multiline_data() -> None:
    items = [
        SSEEvent({"type": "message_start"}, event="message_start", id="1"),
        SSEEvent(event="ping"),
        {"text": "plain"},
        SSEEvent("two\nlines", event="note", retry=50),
    ]
    async with ScriptedUpstream(Reply.sse(items, done=False)) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url) as response:
                body = await response.read()
    assert body == (
        b'event: message_start\nid: 1\ndata: {"type": "message_start"}\n\n'
        b"event: ping\n\n"
        b'data: {"text": "plain"}\n\n'
        b"event: note\nretry: 50\ndata: two\ndata: lines\n\n"
    )


async def test_sse_events_decode_with_the_cores_sse_decoder() -> None:
    reply = Reply.sse([SSEEvent("a", event="x"), SSEEvent("b\nc")])
    async with ScriptedUpstream(reply) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url) as response:
                datas = [data async for data in iter_sse(response)]
    assert datas == ["a", "b\nc", "[DONE]"]


async def test_bytes_sent_counts_what_reached_the_wire() -> None:
    reply = Reply.text(b"0123456789", framing="length")
    async with ScriptedUpstream(reply) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url) as response:
                await response.read()
                head = sum(len(k) + len(v) + 4 for k, v in response.raw_headers) + 2
                status_line = len(b"HTTP/1.1 200 OK\r\n")
    assert upstream.bytes_sent == status_line + head + 10


async def test_wait_client_closed_counts_connections() -> None:
    async with ScriptedUpstream(Reply(chunks=[b"x"], end="hang")) as upstream:
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                response = await session.get(upstream.url)
                await response.content.readexactly(1)
                response.close()
            assert await upstream.wait_client_closed(count=3)
            assert not await upstream.wait_client_closed(0.1, count=4)


def _queued_connects(port: int, count: int) -> int:
    """How many of ``count`` simultaneous connects the kernel completes on its own."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            sockets.append(sock)
        time.sleep(0.3)
        _, writable, _ = select.select([], sockets, [], 0)
        return sum(
            1 for sock in writable if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        )
    finally:
        for sock in sockets:
            sock.close()


def _blocking_reply(request: object) -> Reply:
    time.sleep(1.0)  # blocks the server's loop: it accepts nothing meanwhile
    return Reply.text("ok")


def _blocking_emulator() -> web.Application:
    async def block(request: web.Request) -> web.Response:
        time.sleep(1.0)  # blocks the emulator's loop: it accepts nothing meanwhile
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{tail:.*}", block)
    return app


SERVERS = {
    "scripted upstream": lambda: ScriptedUpstream(handler=_blocking_reply),
    "emulator": lambda: EmulatorThread(_blocking_emulator()),
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_a_busy_server_queues_a_burst_of_connections(server: str) -> None:
    """The listen backlog (LISTEN_BACKLOG, not the usual 128) holds a burst of connects."""
    with SERVERS[server]() as running:
        port = int(running.url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port)) as busy:
            busy.sendall(b"GET /block HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            time.sleep(0.1)  # the server's loop now sleeps in the handler
            assert _queued_connects(port, 600) == 600
