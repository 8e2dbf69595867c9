"""``--grace N``: after SIGTERM running requests get N seconds (not 2N), then they are cut
with a well-formed answer; ``--grace 0`` cuts them at once."""

from __future__ import annotations

import json
import signal
import socket
import time
from typing import Dict

import pytest
from rawhttp import RawConnection, chat
from server_harness import ServerProcess, start_server_with

pytestmark = pytest.mark.timeout(60)


def exit_time(server: ServerProcess, limit: float = 20.0) -> float:
    """Seconds from SIGTERM to the server's exit (``limit`` + 1 when it did not exit)."""
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(limit)
    except Exception:
        return limit + 1
    return time.monotonic() - started


@pytest.mark.parametrize("grace", [0.0, 2.0])
def test_sigterm_with_a_running_stream_exits_after_the_grace_period(
    faulty_env: Dict[str, str], grace: float
) -> None:
    server = start_server_with(faulty_env, "--grace", f"{grace:g}")
    try:
        assert server.url is not None
        with RawConnection.to(server.url) as connection:
            connection.send(chat("forever:grace", stream=True))
            connection.sock.recv(1)  # the stream is running
            elapsed = exit_time(server)
        assert server.proc.returncode == 0
        assert grace <= elapsed < grace + 1.5
        server.wait_for_line("faulty: closed grace")  # the plugin's stream was closed
    finally:
        server.stop()


def test_a_stream_cut_by_the_shutdown_ends_with_a_shutdown_event_and_a_clean_end(
    faulty_env: Dict[str, str],
) -> None:
    server = start_server_with(faulty_env, "--grace", "0.5")
    try:
        assert server.url is not None
        with RawConnection.to(server.url) as connection:
            connection.send(chat("forever:cut", stream=True))
            connection.sock.recv(1, socket.MSG_PEEK)  # the stream is running
            server.proc.send_signal(signal.SIGTERM)
            response = connection.read_response()
            assert connection.at_eof()
        events = response.events()
        assert "[DONE]" not in events
        error = json.loads(events[-1])["error"]
        assert error["code"] == "server_shutting_down"
        assert all('"error"' not in event for event in events[:-1])
    finally:
        server.stop()


def test_a_request_cut_before_its_first_piece_gets_a_503(faulty_env: Dict[str, str]) -> None:
    server = start_server_with(faulty_env, "--grace", "0.5")
    try:
        assert server.url is not None
        with RawConnection.to(server.url) as connection:
            connection.send(chat("wait:30", stream=True))
            time.sleep(0.5)  # the request is waiting for the plugin
            server.proc.send_signal(signal.SIGTERM)
            response = connection.read_response()
            assert connection.at_eof()
        assert response.status == 503
        assert int(response.headers["content-length"]) == len(response.body)
        assert response.json()["error"]["code"] == "server_shutting_down"
        assert response.headers["retry-after"] == "1"
    finally:
        server.stop()


def test_sigterm_closes_idle_keep_alive_connections_at_once(faulty_env: Dict[str, str]) -> None:
    server = start_server_with(faulty_env, "--grace", "10")
    try:
        assert server.url is not None
        with RawConnection.to(server.url) as idle, RawConnection.to(server.url) as busy:
            assert idle.request(chat("hello", stream=False)).status == 200
            busy.send(chat("forever:busy", stream=True))
            busy.sock.recv(1, socket.MSG_PEEK)  # the stream is running
            server.proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            assert idle.at_eof(wait=5)
            assert time.monotonic() - started < 1
            assert server.proc.poll() is None  # still draining the stream
    finally:
        server.stop()


def test_chatplug_server_grace_sets_the_grace_of_serve(faulty_env: Dict[str, str]) -> None:
    server = start_server_with(dict(faulty_env, CHATPLUG_SERVER_GRACE="0"))
    try:
        assert server.url is not None
        with RawConnection.to(server.url) as connection:
            connection.send(chat("forever:envgrace", stream=True))
            connection.sock.recv(1, socket.MSG_PEEK)
            assert exit_time(server) < 1.5
    finally:
        server.stop()
