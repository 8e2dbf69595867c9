"""The server's connection timeouts (set small through ``CHATPLUG_SERVER_*``): idle
keep-alive, the request head, the request body, and a client that stops reading."""

from __future__ import annotations

import socket
import time
from typing import Dict, Iterator

import pytest
from rawhttp import RawConnection, chat, get
from server_harness import ServerProcess, start_server_with, wait_for_entry

pytestmark = pytest.mark.timeout(60)

HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"


LIMITS = {"keepalive": "2", "head-timeout": "1", "body-timeout": "1", "write-timeout": "1"}


@pytest.fixture(scope="module", params=["variables", "options"])
def server(request: pytest.FixtureRequest, faulty_env: Dict[str, str]) -> Iterator[ServerProcess]:
    """The server with small limits, set by ``CHATPLUG_SERVER_*`` or by ``--`` options."""
    if request.param == "variables":
        variables = {
            f"CHATPLUG_SERVER_{name.upper().replace('-', '_')}": value
            for name, value in LIMITS.items()
        }
        process = start_server_with(dict(faulty_env, **variables))
    else:
        options = [item for name, value in LIMITS.items() for item in (f"--{name}", value)]
        process = start_server_with(faulty_env, *options)
    yield process
    process.stop()


def connect(server: ServerProcess) -> RawConnection:
    assert server.url is not None
    return RawConnection.to(server.url)


def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(
    server: ServerProcess,
) -> None:
    with connect(server) as connection:
        assert connection.request(get("/health")).status == 200
        started = time.monotonic()
        assert connection.at_eof(wait=6)
        assert 1.8 <= time.monotonic() - started < 4


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(
    server: ServerProcess,
) -> None:
    with connect(server) as connection:
        started = time.monotonic()
        assert connection.at_eof(wait=5)
        assert 0.8 <= time.monotonic() - started < 1.7  # the head timeout, not the keep-alive


def test_a_half_sent_request_head_gets_a_408_and_the_connection_closes(
    server: ServerProcess,
) -> None:
    with connect(server) as connection:
        connection.send(HEAD)
        started = time.monotonic()
        response = connection.read_response()
        elapsed = time.monotonic() - started
        assert connection.at_eof()
    assert response.status == 408
    assert int(response.headers["content-length"]) == len(response.body)
    assert response.json()["error"]["code"] == "request_timeout"
    assert 0.8 <= elapsed < 3


def test_a_head_trickling_in_byte_by_byte_is_still_cut_at_the_head_timeout(
    server: ServerProcess,
) -> None:
    with connect(server) as connection:
        started = time.monotonic()
        closed = False
        for byte in HEAD + b"X-Slow: " + b"a" * 100:
            try:
                connection.send(bytes([byte]))
            except OSError:
                closed = True
                break
            if time.monotonic() - started > 5:
                break
            time.sleep(0.1)
        assert closed or connection.at_eof(wait=0.1) or connection.read_response().status == 408
        assert time.monotonic() - started < 3


def test_a_request_body_that_stops_arriving_gets_a_408_and_the_connection_closes(
    server: ServerProcess,
) -> None:
    with connect(server) as connection:
        connection.send(HEAD + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        started = time.monotonic()
        response = connection.read_response()
        elapsed = time.monotonic() - started
        assert connection.at_eof()
    assert response.status == 408
    assert response.json()["error"]["code"] == "request_timeout"
    assert 0.8 <= elapsed < 3


def test_a_client_that_stops_reading_is_dropped_and_its_stream_closed(
    server: ServerProcess,
) -> None:
    assert server.url is not None
    host, port = server.url.split("//")[1].rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    try:
        sock.sendall(chat("flood:unread", stream=True))
        started = time.monotonic()
        server.wait_for_line("faulty: closed unread", timeout=15)  # the plugin's stream
        assert time.monotonic() - started < 10
        entry = wait_for_entry(server, lambda e: e.get("status") == 499 and e.get("stream"))
        assert entry["provider"] == "faulty"
    finally:
        sock.close()
    with connect(server) as connection:  # and the server is fine
        assert connection.request(get("/health")).status == 200
