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
- ``delay``: seconds to wait between two chunks; ``head_delay``: before the status line,
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
``Reply.error(status, body="", retry_after=None)``, ``Reply.sse(datas, done=True)``,
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
  ``handler`` (answered with HTTP 500).
- ``async with`` serves in the running loop; ``with`` serves from a background thread.
- ``await upstream.wait_client_closed(timeout)`` / ``upstream.wait_client_closed_sync(timeout)``:
  ``True`` once the client closed a connection that the server was still serving
  (the proof that an abandoned stream released its connection).
"""

from __future__ import annotations

import asyncio
import inspect
import json as _json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from ._server import LoopbackServer

COMPLETE, CLOSE, RESET, HANG = "complete", "close", "reset", "hang"
ENDS = (COMPLETE, CLOSE, RESET, HANG)
CHUNKED, LENGTH, EOF = "chunked", "length", "eof"
FRAMINGS = (CHUNKED, LENGTH, EOF)
MAX_HEAD = 64 * 1024
#: how long a reset waits after the last chunk, so that the bytes reach the client first
RESET_GRACE = 0.05


def split_bytes(data: bytes, sizes: Iterable[int]) -> List[bytes]:
    """``data`` cut into pieces of the given sizes, cycling through ``sizes``."""
    cycle = [size for size in sizes if size > 0] or [len(data) or 1]
    pieces: List[bytes] = []
    position = index = 0
    while position < len(data):
        size = cycle[index % len(cycle)]
        pieces.append(data[position : position + size])
        position += size
        index += 1
    return pieces


def split_utf8(data: bytes) -> List[bytes]:
    """``data`` cut in the middle of every multi-byte UTF-8 character (and nowhere else)."""
    cuts: List[int] = []
    position = 0
    while position < len(data):
        byte = data[position]
        width = 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 1
        if width > 1 and position + 1 < len(data):
            cuts.append(position + 1)
        position += width
    pieces: List[bytes] = []
    start = 0
    for cut in cuts:
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return [piece for piece in pieces if piece]


def _as_bytes(value: Union[str, bytes]) -> bytes:
    return value.encode() if isinstance(value, str) else value


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP response (see the module docstring)."""

    status: int = 200
    chunks: Sequence[bytes] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    head_delay: float = 0.0
    end: str = COMPLETE
    framing: str = CHUNKED
    content_length: Optional[int] = None
    raw: bool = False
    keep_alive: bool = False
    reason: Optional[str] = None

    def __post_init__(self) -> None:
        if self.end not in ENDS:
            raise ValueError(f"end must be one of {', '.join(ENDS)}, not {self.end!r}")
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}, not {self.framing!r}")
        object.__setattr__(self, "chunks", tuple(_as_bytes(chunk) for chunk in self.chunks))

    @property
    def body(self) -> bytes:
        """The chunks joined."""
        return b"".join(self.chunks)

    def but(self, **changes: Any) -> "Reply":
        """A copy with some fields changed."""
        return replace(self, **changes)

    @classmethod
    def text(
        cls,
        body: Union[str, bytes],
        *,
        sizes: Optional[Iterable[int]] = None,
        content_type: str = "text/plain; charset=utf-8",
        status: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> "Reply":
        """``body`` (cut into pieces of ``sizes``, or in one chunk)."""
        data = _as_bytes(body)
        chunks = split_bytes(data, sizes) if sizes is not None else ([data] if data else [])
        merged = {"Content-Type": content_type, **dict(headers or {})}
        return cls(status=status, chunks=chunks, headers=merged, **fields)

    @classmethod
    def json(cls, value: Any, *, status: int = 200, **fields: Any) -> "Reply":
        """A JSON document."""
        return cls.text(
            _json.dumps(value, ensure_ascii=False),
            content_type="application/json",
            status=status,
            **fields,
        )

    @classmethod
    def error(
        cls,
        status: int,
        body: Union[str, bytes] = "",
        *,
        retry_after: Optional[Union[int, float, str]] = None,
        headers: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> "Reply":
        """An HTTP error status (``retry_after`` sets the ``Retry-After`` header)."""
        merged = dict(headers or {})
        if retry_after is not None:
            merged["Retry-After"] = str(retry_after)
        data = _as_bytes(body) or f"error {status}".encode()
        return cls.text(data, status=status, headers=merged, framing=LENGTH, **fields)

    @classmethod
    def sse(cls, datas: Iterable[Union[str, Any]], *, done: bool = True, **fields: Any) -> "Reply":
        """Server-Sent Events, one per item (non-strings are JSON-encoded); then ``[DONE]``."""
        events = [
            b"data: " + _as_bytes(item if isinstance(item, str) else _json.dumps(item)) + b"\n\n"
            for item in datas
        ]
        if done:
            events.append(b"data: [DONE]\n\n")
        fields.setdefault("headers", {"Content-Type": "text/event-stream"})
        return cls(chunks=events, **fields)

    @classmethod
    def ndjson(cls, values: Iterable[Any], **fields: Any) -> "Reply":
        """Newline-delimited JSON, one line per value."""
        lines = [_json.dumps(value, ensure_ascii=False).encode() + b"\n" for value in values]
        fields.setdefault("headers", {"Content-Type": "application/x-ndjson"})
        return cls(chunks=lines, **fields)

    @classmethod
    def truncated(
        cls,
        body: Union[str, bytes],
        at: int,
        *,
        end: str = CLOSE,
        sizes: Optional[Iterable[int]] = None,
        headers: Optional[Mapping[str, str]] = None,
        status: int = 200,
        **fields: Any,
    ) -> "Reply":
        """Declare ``Content-Length`` of the whole ``body`` but send ``body[:at]``, then ``end``."""
        data = _as_bytes(body)
        sent = data[:at]
        chunks = split_bytes(sent, sizes) if sizes is not None else ([sent] if sent else [])
        return cls(
            status=status,
            chunks=chunks,
            headers=dict(headers or {}),
            framing=LENGTH,
            content_length=len(data),
            end=end,
            **fields,
        )


class ConnectionRecord:
    """One TCP connection accepted by a scripted upstream."""

    def __init__(self, peer: Any) -> None:
        self.peer = peer
        self.opened_at = time.monotonic()
        self.requests: List["RecordedRequest"] = []
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


class _BadRequest(Exception):
    pass


class _Connection:
    """The reading side of one connection: a buffer filled by a background task."""

    def __init__(self, reader: asyncio.StreamReader, record: ConnectionRecord) -> None:
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
                raise _BadRequest("request head too large")
            if self.eof:
                return None
            await self.wait()

    async def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if self.eof:
                raise _BadRequest("the client closed before sending the whole body")
            await self.wait()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def read_request(self) -> Optional[Tuple[str, str, str, List[Tuple[str, str]], bytes]]:
        head = await self.read_until(b"\r\n\r\n", MAX_HEAD)
        if head is None:
            return None
        lines = head[:-4].decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            raise _BadRequest(f"bad request line {lines[0]!r}") from None
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
                    raise _BadRequest("the client closed inside a chunked body")
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

    def client_closed(self) -> bool:
        """Whether the client closed any connection before the server did."""
        return any(conn.client_closed for conn in self.connections)

    async def wait_client_closed(self, timeout: float = 5.0) -> bool:
        """Wait until the client closed a connection first (``False`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not self.client_closed():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def wait_client_closed_sync(self, timeout: float = 5.0) -> bool:
        """:meth:`wait_client_closed` for synchronous code (server in a thread)."""
        deadline = time.monotonic() + timeout
        while not self.client_closed():
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
        conn = _Connection(reader, record)
        try:
            while True:
                try:
                    parsed = await conn.read_request()
                except _BadRequest as error:
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
        finally:
            conn.server_closing = conn.server_closing or not conn.eof
            if not conn.eof:
                record._close("server")
            conn.task.cancel()
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _write_reply(
        self, conn: _Connection, writer: asyncio.StreamWriter, reply: Reply
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
            writer.write(self._head(reply, keep_alive))
            await writer.drain()
        for index, chunk in enumerate(reply.chunks):
            if index and reply.delay:
                await asyncio.sleep(reply.delay)
            if conn.eof:  # the client is gone: stop writing
                return False
            if reply.framing == CHUNKED and not reply.raw:
                writer.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            else:
                writer.write(chunk)
            await writer.drain()
        if reply.end == COMPLETE:
            if reply.framing == CHUNKED and not reply.raw:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
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

    async def _close(self, conn: _Connection, writer: asyncio.StreamWriter) -> None:
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
