"""Reading HTTP/1.1 requests off one connection of a scripted upstream (no parser library)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, List, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from .upstream import ConnectionRecord

MAX_HEAD = 64 * 1024
#: method, target, version, raw headers, body
Request = Tuple[str, str, str, List[Tuple[str, str]], bytes]


class BadRequest(Exception):
    """The client sent something that is not an HTTP/1.1 request (answered with 400)."""


class RequestReader:
    """The reading side of one connection: a buffer filled by a background task.

    Notes in ``record`` when the client closes its side first (unless the server is closing).
    """

    def __init__(self, reader: asyncio.StreamReader, record: "ConnectionRecord") -> None:
        self.reader = reader
        self.record = record
        self.buffer = bytearray()
        self.eof = False
        self.server_closing = False
        self.changed = asyncio.Event()
        self.task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.buffer += data
                self.changed.set()
        except (ConnectionError, OSError):
            pass
        finally:
            self.eof = True
            if not self.server_closing:
                self.record._close("client")
            self.changed.set()

    async def wait(self) -> None:
        self.changed.clear()
        await self.changed.wait()

    async def read_until(self, separator: bytes, limit: int) -> Optional[bytes]:
        while True:
            index = self.buffer.find(separator)
            if index >= 0:
                end = index + len(separator)
                data = bytes(self.buffer[:end])
                del self.buffer[:end]
                return data
            if len(self.buffer) > limit:
                raise BadRequest("request head too large")
            if self.eof:
                return None
            await self.wait()

    async def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if self.eof:
                raise BadRequest("the client closed before sending the whole body")
            await self.wait()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def read_request(self) -> Optional[Request]:
        head = await self.read_until(b"\r\n\r\n", MAX_HEAD)
        if head is None:
            return None
        lines = head[:-4].decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            raise BadRequest(f"bad request line {lines[0]!r}") from None
        raw_headers: List[Tuple[str, str]] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            raw_headers.append((name.strip(), value.strip()))
        headers = {name.lower(): value for name, value in raw_headers}
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size_line = await self.read_until(b"\r\n", MAX_HEAD)
                if size_line is None:
                    raise BadRequest("the client closed inside a chunked body")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, up to the blank line
                        trailer = await self.read_until(b"\r\n", MAX_HEAD)
                        if trailer is None or trailer == b"\r\n":
                            break
                    break
                parts.append(await self.read_exactly(size))
                await self.read_exactly(2)
            body = b"".join(parts)
        else:
            body = await self.read_exactly(int(headers.get("content-length", "0") or 0))
        return method, target, version, raw_headers, body
