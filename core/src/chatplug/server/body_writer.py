"""Writing a streamed body in as few sends as the upstream allows.

An upstream often delivers many events in one read (a fast model, a proxy that buffers):
the plugin then yields several pieces without the event loop running in between.
:class:`BurstWriter` collects the chunks rendered in one step of the loop and sends them
as one HTTP chunk when the step ends (``loop.call_soon``), instead of one system call per
piece; a piece that arrives alone is sent as soon as the handler waits for the next one,
exactly as before.  Sent straight to the transport (the HTTP chunked framing is one
``%x\\r\\n…\\r\\n``), it also skips aiohttp's per-write bookkeeping.
"""

from __future__ import annotations

import asyncio
from typing import List, Optional

from aiohttp import web

#: above this many bytes waiting in the transport, the handler waits for the client
HIGH_WATER = 64 * 1024
#: how often a handler waiting for a slow client checks the transport again
DRAIN_POLL = 0.01


class BurstWriter:
    """The body of a prepared :class:`aiohttp.web.StreamResponse` whose headers are sent.

    :meth:`add` queues a chunk; :meth:`drain` waits while the client reads slowly;
    :meth:`finish` sends what is queued and ``end`` with the end of the body.
    """

    __slots__ = (
        "_chunked",
        "_loop",
        "_parts",
        "_scheduled",
        "_transport",
        "congested",
        "response",
    )

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.response = response
        self._transport: Optional[asyncio.BaseTransport] = request.transport
        # aiohttp frames a body without a length as chunks (HTTP/1.1) or ends it by closing
        self._chunked = response.headers.get("Transfer-Encoding", "").lower() == "chunked"
        self._loop = asyncio.get_running_loop()
        self._parts: List[bytes] = []
        self._scheduled = False
        #: more than :data:`HIGH_WATER` bytes wait for the client: call :meth:`drain`
        self.congested = False

    def add(self, data: bytes) -> None:
        self._parts.append(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        parts = self._parts
        if not parts:
            return
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        transport = self._transport
        if transport is None or transport.is_closing():
            return  # the client went away: the handler is being cancelled
        if self._chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        transport.write(data)  # type: ignore[attr-defined]
        self.congested = self.backlog() > HIGH_WATER

    def backlog(self) -> int:
        """Bytes sent but not yet taken by the client's connection."""
        transport = self._transport
        if transport is None:
            return 0
        return int(transport.get_write_buffer_size())  # type: ignore[attr-defined]

    async def drain(self) -> None:
        """Wait while more than :data:`HIGH_WATER` bytes wait for a slow client."""
        transport = self._transport
        while transport is not None and self.backlog() > HIGH_WATER:
            if transport.is_closing():
                raise ConnectionResetError("the client closed the connection")
            await asyncio.sleep(DRAIN_POLL)
        self.congested = False

    async def finish(self, end: bytes) -> None:
        """Send what is queued, then ``end`` and the end of the body, in one send."""
        parts = self._parts
        if parts:
            end = b"".join(parts) + end
            parts.clear()
        await self.response.write_eof(end)
