"""A strict HTTP/1.1 client on a raw socket: it checks the framing of every response.

``RawConnection.request`` sends bytes as they are and reads one response, failing on
anything malformed: the status line, header syntax, both or neither of
``Content-Length`` and chunked encoding (without ``Connection: close``), a chunk size
line, a chunk not followed by CRLF, a body shorter than announced.  ``at_eof`` then says
whether the server closed the connection with no stray bytes after the response.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

#: HTTP/1.0 too: aiohttp answers a request it cannot parse as one of unknown version
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) [^\r\n]*")
HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*?)[ \t]*")
CHUNK_SIZE = re.compile(rb"([0-9a-fA-F]+)(;[^\r\n]*)?")


class Malformed(AssertionError):
    """The server's response breaks HTTP/1.1 framing."""


@dataclass
class Response:
    status: int
    headers: Dict[str, str]
    body: bytes
    chunked: bool
    raw_head: bytes = b""
    chunks: List[bytes] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> List[str]:
        """The SSE ``data:`` payloads of the body, in order (each event must be one
        ``data:`` line followed by a blank line)."""
        text = self.body.decode("utf-8")
        if not text.endswith("\n\n"):
            raise Malformed(f"the event stream does not end with a blank line: {text[-80:]!r}")
        events = []
        for block in text[:-2].split("\n\n"):
            if not block.startswith("data: ") or "\n" in block:
                raise Malformed(f"not one data line: {block[:120]!r}")
            events.append(block[len("data: ") :])
        return events


class RawConnection:
    """One TCP connection to the server, read with strict HTTP/1.1 framing."""

    def __init__(self, host: str, port: int, timeout: float = 15.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    @classmethod
    def to(cls, url: str, timeout: float = 15.0) -> "RawConnection":
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        return cls(host, int(port), timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, data: bytes) -> Response:
        self.send(data)
        return self.read_response()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise Malformed(f"the connection closed in the middle of a response: {self.buffer!r}")
        self.buffer += data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if len(self.buffer) > 65536:
                raise Malformed("a line longer than 64 KiB")
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_response(self) -> Response:
        status_line = self._line()
        match = STATUS_LINE.fullmatch(status_line)
        if not match:
            raise Malformed(f"bad status line {status_line!r}")
        headers: Dict[str, str] = {}
        lines = [status_line]
        while True:
            line = self._line()
            lines.append(line)
            if not line:
                break
            header = HEADER.fullmatch(line)
            if not header:
                raise Malformed(f"bad header line {line!r}")
            name = header.group(1).decode("ascii").lower()
            if name in headers and name in ("content-length", "transfer-encoding"):
                raise Malformed(f"{name} twice")
            headers[name] = header.group(2).decode("latin-1")
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = headers.get("content-length")
        response = Response(int(match.group(1)), headers, b"", chunked, b"\r\n".join(lines))
        if chunked and length is not None:
            raise Malformed("both Content-Length and chunked encoding")
        if chunked:
            response.chunks = self._chunks()
            response.body = b"".join(response.chunks)
        elif length is not None:
            if not length.isdigit():
                raise Malformed(f"bad Content-Length {length!r}")
            response.body = self._exactly(int(length))
        elif headers.get("connection", "").lower() == "close":
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.buffer += data
            response.body, self.buffer = self.buffer, b""
        elif response.status not in (204, 304) and response.status >= 200:
            raise Malformed("neither Content-Length nor chunked encoding on a kept-alive response")
        return response

    def _chunks(self) -> List[bytes]:
        chunks = []
        while True:
            size_line = self._line()
            match = CHUNK_SIZE.fullmatch(size_line)
            if not match:
                raise Malformed(f"bad chunk size line {size_line!r}")
            size = int(match.group(1), 16)
            if size == 0:
                while self._line():  # trailers, up to the blank line
                    pass
                return chunks
            chunks.append(self._exactly(size))
            if self._exactly(2) != b"\r\n":
                raise Malformed("a chunk not followed by CRLF")

    def at_eof(self, wait: float = 5.0) -> bool:
        """Whether the server closes the connection within ``wait`` seconds, with no
        bytes left after the response (stray bytes raise :class:`Malformed`)."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if self.buffer or data:
            raise Malformed(f"bytes after the response: {(self.buffer + data)[:200]!r}")
        return True


def post(path: str, body: Any, headers: Optional[Dict[str, str]] = None) -> bytes:
    """A ``POST`` request with a JSON body, as bytes."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def chat(prompt: str, stream: bool, model: str = "faulty/m") -> bytes:
    """A chat completion request for ``prompt``."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": stream}
    return post("/v1/chat/completions", body)
