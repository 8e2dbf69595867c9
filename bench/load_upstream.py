"""A paced Vitalentum-style upstream for the server load test (raw asyncio, one process).

``python bench/load_upstream.py`` prints ``PORT <port>`` and serves any POST with
Server-Sent Events in Vitalentum's shape (``data: {"choices":[{"delta":{"content":..}}]}``,
then ``data: [DONE]``), HTTP/1.1 chunked, keep-alive.  The request body picks the
pacing: ``chunks=N`` events, ``pace=MS`` milliseconds apart (anywhere in the body, e.g. in
the prompt); defaults 40 and 50.  The first event goes out at once.  One timer per pace
value writes the next event of every stream due, so a thousand paced streams cost little.
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Dict, List, Optional, Set

DEFAULT_CHUNKS = 40
DEFAULT_PACE_MS = 50
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
)
PACING = re.compile(rb"(chunks|pace)=(\d+)")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


EVENTS = [
    _chunk(b'data: {"choices":[{"index":0,"delta":{"content":"tok%d "}}]}\n\n' % i)
    for i in range(10)
]
END = _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"


class Stream:
    __slots__ = ("left", "protocol", "sent")

    def __init__(self, protocol: "Upstream", left: int) -> None:
        self.protocol = protocol
        self.left = left
        self.sent = 0


class Pacer:
    """Every ``pace`` seconds, the next event of each of its streams."""

    def __init__(self, pace: float) -> None:
        self.pace = pace
        self.streams: Set[Stream] = set()
        self._handle: Optional[asyncio.TimerHandle] = None

    def add(self, stream: Stream) -> None:
        self.streams.add(stream)
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self.pace, self._tick)

    def _tick(self) -> None:
        self._handle = None
        for stream in list(self.streams):
            if not advance(stream):
                self.streams.discard(stream)
        if self.streams:
            self._handle = asyncio.get_running_loop().call_later(self.pace, self._tick)


PACERS: Dict[int, Pacer] = {}


def advance(stream: Stream) -> bool:
    """Write the stream's next event (or its end); whether it has more to send."""
    transport = stream.protocol.transport
    if transport is None or transport.is_closing():
        return False
    if stream.left <= 0:
        transport.write(END)
        stream.protocol.finished()
        return False
    transport.write(EVENTS[stream.sent % 10])
    stream.sent += 1
    stream.left -= 1
    return True


class Upstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self.buffer = b""
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._maybe_request()

    def finished(self) -> None:
        self.busy = False
        self._maybe_request()

    def _maybe_request(self) -> None:
        if self.busy or self.transport is None:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        length = 0
        found = re.search(rb"content-length:\s*(\d+)", head)
        if found:
            length = int(found.group(1))
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        settings = {key: int(value) for key, value in PACING.findall(body)}
        chunks = settings.get(b"chunks", DEFAULT_CHUNKS)
        pace = settings.get(b"pace", DEFAULT_PACE_MS)
        self.busy = True
        self.transport.write(HEAD)
        stream = Stream(self, chunks)
        if not advance(stream):
            return
        if pace <= 0:
            while advance(stream):
                pass
            return
        pacer = PACERS.get(pace)
        if pacer is None:
            pacer = PACERS[pace] = Pacer(pace / 1000)
        pacer.add(stream)


async def main(argv: List[str]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
