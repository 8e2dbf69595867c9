"""A scripted upstream: an HTTP server on 127.0.0.1 that answers exactly as told.

Serve these bytes, in these chunks, with this status and these headers, this delay
between chunks, then finish the response, close the connection early, reset it, or
hang; record every request and whether the client closed its connection::

    from chatplug.testing import Reply, ScriptedUpstream

    async with ScriptedUpstream(Reply.text("héllo", sizes=[1])) as upstream:
        ...  # point the provider's base_url at upstream.url
        assert upstream.requests[0].json()["prompt"] == "hi"

    with ScriptedUpstream(Reply.error(429, retry_after=3)) as upstream:  # from a thread
        ...

The API (stable; the fault suite and the conformance suite rely on it):

:class:`Reply` (frozen dataclass) — one scripted response:

- ``status`` (200), ``reason`` (default: the standard phrase), ``headers`` (mapping),
- ``chunks``: the body as a sequence of ``bytes``, each written (and drained) on its own,
- ``delay``: seconds to wait between two chunks; ``head_delay``: before the status line;
  ``end_delay``: after the last chunk, before the ``end`` (e.g. some text, a pause, a reset),
- ``framing``: ``"chunked"`` (default), ``"length"`` (``Content-Length: content_length``,
  default the chunks' total) or ``"eof"`` (no length; the body ends when the connection
  closes, HTTP/1.0 style),
- ``end``: what happens after the last chunk: ``"complete"`` (the response is finished
  properly), ``"close"`` (the server closes the connection without finishing the framing:
  a truncated response), ``"reset"`` (TCP reset, after letting the bytes reach the client),
  ``"hang"`` (send nothing more; wait until the client closes or the server stops),
- ``raw``: the chunks are the whole response on the wire (write your own status line),
- ``keep_alive``: keep the connection open for the next request after a complete
  response (default: ``Connection: close``).

Constructors: ``Reply.text(body, sizes=None, ...)``, ``Reply.json(value, ...)``,
``Reply.error(status, body="", retry_after=None)``, ``Reply.sse(items, done=True)`` (an
item is an event's data, or an :class:`SSEEvent` for a named event: ``event: x``),
``Reply.ndjson(values)``, ``Reply.truncated(body, at, end="close")`` (declares the full
length, sends ``body[:at]``, then closes), and ``reply.but(**changes)``.  Helpers:
:func:`split_bytes` (cut bytes into pieces of the given sizes) and :func:`split_utf8`
(cut inside every multi-byte UTF-8 character).

:class:`ScriptedUpstream` ``(*replies, handler=None, host="127.0.0.1", port=0)``:

- replies are served one per request, in order; the last one repeats.  ``handler`` (a
  function, sync or async, ``RecordedRequest -> Reply``) replaces them when given.
  ``push(*replies)`` queues more replies.
- ``url``: ``http://127.0.0.1:PORT``; ``requests``: every :class:`RecordedRequest`
  (``method``, ``target``, ``path``, ``query``, ``headers`` (lower-case names), ``body``,
  ``json()``, ``text()``, ``connection``); ``connections``: every
  :class:`ConnectionRecord` (``requests``, ``closed_by``: ``None`` while open, then
  ``"client"`` or ``"server"``, ``client_closed``); ``errors``: exceptions raised by
  ``handler`` (answered with HTTP 500); ``bytes_sent``: bytes written to clients in all.
- ``async with`` serves in the running loop; ``with`` serves from a background thread.
- ``await upstream.wait_client_closed(timeout, count=1)`` (or
  ``upstream.wait_client_closed_sync(...)`` from synchronous code): ``True`` once the
  client closed ``count`` connections that the server was still serving or keeping alive
  (the proof that an abandoned stream released its connection).

The replies live in :mod:`chatplug.testing.replies`, reading requests in
:mod:`chatplug.testing._requests`; the server listens with a backlog of
:data:`~chatplug.emulation.LISTEN_BACKLOG` (see :mod:`chatplug.testing._server`).
"""

from __future__ import annotations

import asyncio
import inspect
import json as _json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union

from ._requests import MAX_HEAD, BadRequest, RequestReader
from ._server import LoopbackServer
from .replies import (
    CHUNKED,
    CLOSE,
    COMPLETE,
    ENDS,
    EOF,
    FRAMINGS,
    HANG,
    LENGTH,
    RESET,
    Reply,
    SSEEvent,
    split_bytes,
    split_utf8,
)

#: how long a reset waits after the last chunk, so that the bytes reach the client first
RESET_GRACE = 0.05

__all__ = [
    "CHUNKED",
    "CLOSE",
    "COMPLETE",
    "ENDS",
    "EOF",
    "FRAMINGS",
    "HANG",
    "LENGTH",
    "MAX_HEAD",
    "RESET",
    "ConnectionRecord",
    "RecordedRequest",
    "Reply",
    "ReplyFunction",
    "SSEEvent",
    "ScriptedUpstream",
    "split_bytes",
    "split_utf8",
]


class ConnectionRecord:
    """One TCP connection accepted by a scripted upstream."""

    def __init__(self, peer: Any) -> None:
        self.peer = peer
        self.opened_at = time.monotonic()
        self.requests: List["RecordedRequest"] = []
        #: bytes written to the client on this connection (head and body)
        self.bytes_sent = 0
        #: ``None`` while open; then ``"client"`` or ``"server"`` (who closed first)
        self.closed_by: Optional[str] = None
        self.closed_at: Optional[float] = None
        self.closed = threading.Event()

    @property
    def client_closed(self) -> bool:
        return self.closed_by == "client"

    def _close(self, by: str) -> None:
        if self.closed_by is None:
            self.closed_by = by
            self.closed_at = time.monotonic()
            self.closed.set()

    def __repr__(self) -> str:
        return f"<ConnectionRecord {len(self.requests)} requests closed_by={self.closed_by}>"


@dataclass
class RecordedRequest:
    """One request received by a scripted upstream."""

    method: str
    target: str
    version: str
    headers: Dict[str, str]
    raw_headers: List[Tuple[str, str]]
    body: bytes
    connection: ConnectionRecord = field(repr=False)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return _json.loads(self.body)


ReplyFunction = Callable[[RecordedRequest], Union[Reply, Awaitable[Reply]]]


class ScriptedUpstream(LoopbackServer):
    """An HTTP server on 127.0.0.1 that answers with scripted :class:`Reply` objects."""

    def __init__(
        self,
        *replies: Reply,
        handler: Optional[ReplyFunction] = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self._replies: List[Reply] = list(replies)
        self._served = 0
        self.handler = handler
        self.requests: List[RecordedRequest] = []
        self.connections: List[ConnectionRecord] = []
        self.errors: List[BaseException] = []

    def push(self, *replies: Reply) -> None:
        """Queue more replies (served after the ones not yet served)."""
        self._replies.extend(replies)

    # waiting on the client -------------------------------------------------------

    @property
    def bytes_sent(self) -> int:
        """Bytes written to clients on every connection (heads and bodies)."""
        return sum(conn.bytes_sent for conn in self.connections)

    def client_closed(self, count: int = 1) -> bool:
        """Whether the client closed (at least ``count``) connections before the server did."""
        return sum(conn.client_closed for conn in self.connections) >= count

    async def wait_client_closed(self, timeout: float = 5.0, *, count: int = 1) -> bool:
        """Until the client closed ``count`` connections first (``False`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not self.client_closed(count):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def wait_client_closed_sync(self, timeout: float = 5.0, *, count: int = 1) -> bool:
        """:meth:`wait_client_closed` for synchronous code (server in a thread)."""
        deadline = time.monotonic() + timeout
        while not self.client_closed(count):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    # serving ---------------------------------------------------------------------

    async def _next_reply(self, request: RecordedRequest) -> Reply:
        if self.handler is not None:
            result = self.handler(request)
            if inspect.isawaitable(result):
                result = await result
            if not isinstance(result, Reply):
                raise TypeError(f"the handler returned {result!r}, not a Reply")
            return result
        if not self._replies:
            return Reply.error(500, "the scripted upstream has no reply scripted")
        index = min(self._served, len(self._replies) - 1)
        self._served += 1
        return self._replies[index]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        record = ConnectionRecord(writer.get_extra_info("peername"))
        self.connections.append(record)
        conn = RequestReader(reader, record)
        try:
            while True:
                try:
                    parsed = await conn.read_request()
                except BadRequest as error:
                    await self._write_reply(conn, writer, Reply.error(400, str(error)))
                    return
                if parsed is None:
                    return
                method, target, version, raw_headers, body = parsed
                request = RecordedRequest(
                    method,
                    target,
                    version,
                    {name.lower(): value for name, value in raw_headers},
                    raw_headers,
                    body,
                    record,
                )
                self.requests.append(request)
                record.requests.append(request)
                try:
                    reply = await self._next_reply(request)
                except Exception as error:
                    self.errors.append(error)
                    reply = Reply.error(500, f"scripted upstream handler failed: {error!r}")
                keep_open = await self._write_reply(conn, writer, reply)
                wants_close = request.headers.get("connection", "").lower() == "close"
                if not keep_open or wants_close:
                    return
        except ConnectionError:  # a write failed: the client closed (or reset) its side first
            record._close("client")
        finally:
            conn.server_closing = conn.server_closing or not conn.eof
            if not conn.eof:
                record._close("server")
            conn.task.cancel()
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _write_reply(
        self, conn: RequestReader, writer: asyncio.StreamWriter, reply: Reply
    ) -> bool:
        """Send ``reply``; ``True`` when the connection stays open for another request."""
        keep_alive = reply.keep_alive and reply.end == COMPLETE and reply.framing != EOF
        if reply.head_delay:
            await asyncio.sleep(reply.head_delay)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - defensive
                pass
        if not reply.raw:
            await self._send(conn, writer, self._head(reply, keep_alive))
        for index, chunk in enumerate(reply.chunks):
            if index and reply.delay:
                await asyncio.sleep(reply.delay)
            if conn.eof:  # the client is gone: stop writing
                return False
            if reply.framing == CHUNKED and not reply.raw:
                chunk = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
            await self._send(conn, writer, chunk)
        if reply.end_delay and not conn.eof:
            await asyncio.sleep(reply.end_delay)
        if reply.end == COMPLETE:
            if reply.framing == CHUNKED and not reply.raw:
                await self._send(conn, writer, b"0\r\n\r\n")
            if keep_alive:
                return True
            await self._close(conn, writer)
        elif reply.end == CLOSE:
            await self._close(conn, writer)
        elif reply.end == RESET:
            await asyncio.sleep(max(reply.delay, RESET_GRACE))
            conn.server_closing = not conn.eof
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:  # pragma: no cover - defensive
                    pass
            writer.transport.abort()
        else:  # HANG: until the client leaves (or the server stops)
            while not conn.eof:
                await conn.wait()
        return False

    @staticmethod
    async def _send(conn: RequestReader, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        conn.record.bytes_sent += len(data)
        await writer.drain()

    async def _close(self, conn: RequestReader, writer: asyncio.StreamWriter) -> None:
        conn.server_closing = not conn.eof
        if not conn.eof:
            conn.record._close("server")
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    @staticmethod
    def _head(reply: Reply, keep_alive: bool) -> bytes:
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"HTTP/1.1 {reply.status} {reply.reason or phrase}"]
        names = {name.lower() for name in reply.headers}
        for name, value in reply.headers.items():
            lines.append(f"{name}: {value}")
        if reply.framing == CHUNKED and "transfer-encoding" not in names:
            lines.append("Transfer-Encoding: chunked")
        elif reply.framing == LENGTH and "content-length" not in names:
            length = reply.content_length if reply.content_length is not None else len(reply.body)
            lines.append(f"Content-Length: {length}")
        if "connection" not in names:
            lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
