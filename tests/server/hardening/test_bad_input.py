"""Bad input gets a 4xx in the OpenAI error shape, including what aiohttp's parser
rejects itself; malformed requests and client resets are logged as one access-log line,
never as an ERROR with a traceback."""

from __future__ import annotations

import gzip
import json
import socket
import struct
import time
from typing import Any, Dict, Iterator

import pytest
from rawhttp import RawConnection, post
from server_harness import ServerProcess, start_server_with, wait_for_entry

pytestmark = pytest.mark.timeout(60)

KEY = "the-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(faulty_env: Dict[str, str]) -> Iterator[ServerProcess]:
    process = start_server_with(dict(faulty_env, CHATPLUG_API_KEY=KEY))
    yield process
    process.stop()


def quiet(server: ServerProcess, settle: float = 0.3) -> int:
    """The number of lines the server printed, once it printed nothing for ``settle`` s."""
    count = len(server.lines)
    while True:
        time.sleep(settle)
        if len(server.lines) == count:
            return count
        count = len(server.lines)


def connect(server: ServerProcess) -> RawConnection:
    assert server.url is not None
    return RawConnection.to(server.url)


def error_of(body: bytes) -> Dict[str, Any]:
    payload = json.loads(body)
    assert set(payload) == {"error"}
    assert {"message", "type", "code", "param"} <= set(payload["error"])
    return payload["error"]  # type: ignore[no-any-return]


def chat_body(**extra: Any) -> Dict[str, Any]:
    return {"model": "faulty/m", "messages": [{"role": "user", "content": "hi"}], **extra}


MALFORMED = {
    "not-http": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "bad-request-line": b"GET /health HTTP/1.1 extra words\r\n\r\n",
    "bad-header": b"GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "header-too-large": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    "url-too-long": b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-content-length": b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
    "bad-chunk": (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nab\r\nZZZZ\r\n"
    ),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=list(MALFORMED))
def test_a_request_aiohttp_rejects_gets_a_400_in_the_openai_shape(
    server: ServerProcess, raw: bytes
) -> None:
    with connect(server) as connection:
        response = connection.request(raw)
        assert connection.at_eof()
    assert response.status == 400
    assert response.headers["content-type"].startswith("application/json")
    assert int(response.headers["content-length"]) == len(response.body)
    assert error_of(response.body)["code"] == "invalid_http_request"
    entry = wait_for_entry(server, lambda e: e.get("error") == "invalid_http_request")
    assert entry["status"] == 400


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=list(MALFORMED))
def test_a_malformed_request_is_logged_as_one_line_without_a_traceback(
    server: ServerProcess, raw: bytes
) -> None:
    start = quiet(server)
    with connect(server) as connection:
        connection.request(raw)
        assert connection.at_eof()
    deadline = time.monotonic() + 5
    while len(server.lines) == start and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # anything else it would print
    lines = server.lines[start:]
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["status"], entry["error"]) == (400, "invalid_http_request")


def test_deeply_nested_json_is_a_400(server: ServerProcess) -> None:
    body = b"[" * 100000 + b"]" * 100000
    with connect(server) as connection:
        response = connection.request(post("/v1/chat/completions", body, AUTH))
    assert response.status == 400
    assert error_of(response.body)["code"] == "invalid_json"


def test_a_gzip_body_that_is_not_gzip_is_a_400(server: ServerProcess) -> None:
    headers = {**AUTH, "Content-Encoding": "gzip"}
    body = json.dumps(chat_body()).encode()
    with connect(server) as connection:
        response = connection.request(post("/v1/chat/completions", body, headers))
        assert connection.at_eof()  # the connection is not reused after a broken body
    assert response.status == 400
    assert error_of(response.body)["code"] == "invalid_body"


def test_a_real_gzip_body_is_accepted(server: ServerProcess) -> None:
    headers = {**AUTH, "Content-Encoding": "gzip"}
    body = gzip.compress(json.dumps(chat_body()).encode())
    with connect(server) as connection:
        response = connection.request(post("/v1/chat/completions", body, headers))
    assert response.status == 200
    assert response.json()["choices"][0]["message"]["content"] == "hello from faulty"


def test_non_ascii_bytes_in_the_authorization_header_are_a_401(server: ServerProcess) -> None:
    raw = post("/v1/chat/completions", chat_body()).replace(
        b"\r\n\r\n", b"\r\nAuthorization: Bearer \xff\xfe\xc3(\r\n\r\n", 1
    )
    with connect(server) as connection:
        response = connection.request(raw)
    assert response.status == 401
    assert error_of(response.body)["code"] == "invalid_api_key"


def test_n_true_is_not_taken_as_n_1(server: ServerProcess) -> None:
    with connect(server) as connection:
        response = connection.request(post("/v1/chat/completions", chat_body(n=True), AUTH))
    assert response.status == 400
    assert error_of(response.body)["param"] == "n"


def test_clients_resetting_mid_stream_are_499_lines_without_a_traceback(
    faulty_env: Dict[str, str],
) -> None:
    pytest.importorskip("uvloop")  # where a write racing the reset fails most often
    server = start_server_with(faulty_env, "--loop", "uvloop")
    try:
        assert server.url is not None
        host, port = server.url.split("//")[1].rsplit(":", 1)
        for index in range(50):  # resets arriving while the server is busy writing
            content = f"flood:reset{index}"
            body = chat_body(stream=True, messages=[{"role": "user", "content": content}])
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(post("/v1/chat/completions", body))
                received = 0
                while received < 200_000:
                    received += len(sock.recv(262144))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for index in range(50):
            server.wait_for_line(f"faulty: closed reset{index}")
        time.sleep(0.5)
        entries = [line for line in server.lines if '"status": 499' in line]
        assert len(entries) == 50
        text = "\n".join(server.lines)
        assert "Traceback" not in text and "Error" not in text
    finally:
        server.stop()
