"""gunicorn serving ``chatplug.server:create_runner``: the connection layer of
``chatplug serve`` (OpenAI-shaped answers to malformed requests, the head timeout)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from rawhttp import RawConnection, chat
from server_harness import ServerProcess

pytest.importorskip("gunicorn")
pytestmark = pytest.mark.timeout(90)

LISTENING = re.compile(r"Listening at: (http://\S+)")


def gunicorn_args() -> List[str]:
    executable = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    command = [executable] if executable else [sys.executable, "-m", "gunicorn"]
    return [
        *command,
        "chatplug.server:create_runner",
        "--worker-class",
        "aiohttp.GunicornWebWorker",
        "-w",
        "1",
        "-b",
        "127.0.0.1:0",
    ]


@pytest.fixture(scope="module")
def gunicorn(faulty_env: Dict[str, str]) -> Iterator[ServerProcess]:
    env = dict(faulty_env, CHATPLUG_SERVER_HEAD_TIMEOUT="1")
    process = ServerProcess(gunicorn_args(), env, ready=LISTENING).wait_ready()
    assert process.url is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the worker answers
        try:
            with RawConnection.to(process.url, timeout=2) as connection:
                if connection.request(chat("hello", stream=False)).status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    yield process
    process.stop()


def test_a_malformed_request_gets_an_openai_shaped_400_under_gunicorn(
    gunicorn: ServerProcess,
) -> None:
    assert gunicorn.url is not None
    with RawConnection.to(gunicorn.url) as connection:
        response = connection.request(b"GET /health HTTP/1.1\r\nNo colon\r\n\r\n")
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_http_request"


def test_a_half_sent_head_gets_a_408_under_gunicorn(gunicorn: ServerProcess) -> None:
    assert gunicorn.url is not None
    with RawConnection.to(gunicorn.url) as connection:
        connection.send(b"GET /health HTTP/1.1\r\n")
        response = connection.read_response()
    assert response.status == 408


def test_sigterm_cuts_a_stream_after_chatplug_server_grace_under_gunicorn(
    faulty_env: Dict[str, str],
) -> None:
    env = dict(faulty_env, CHATPLUG_SERVER_GRACE="1")
    process = ServerProcess(gunicorn_args(), env, ready=LISTENING).wait_ready()
    try:
        assert process.url is not None
        deadline = time.monotonic() + 30
        while True:  # until the worker is up
            try:
                with RawConnection.to(process.url, timeout=2) as connection:
                    connection.send(chat("forever:gunicorn", stream=True))
                    connection.sock.recv(1, socket.MSG_PEEK)
                    started = time.monotonic()
                    process.proc.send_signal(signal.SIGTERM)
                    response = connection.read_response()
                    elapsed = time.monotonic() - started
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert json.loads(response.events()[-1])["error"]["code"] == "server_shutting_down"
        assert 0.9 <= elapsed < 4
    finally:
        process.stop()
