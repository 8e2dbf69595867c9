"""Scripted upstreams and in-test provider plugins for the fault-injection suite.

The upstream is a raw ``asyncio.start_server`` on 127.0.0.1 so that every byte, pause,
reset and half-written frame is under the test's control.  Each accepted connection runs
the next *script* (an ``async def script(conn)``); the last script repeats.  The server
records every request and whether the client closed its side (the proof that an abandoned
stream released its connection).

The plugins speak three wire formats through the core decoders: SSE (like Vitalentum),
NDJSON (like AiChatOnline) and plain text (like AI365VIP); ``BrokenPlugin`` raises inside
``stream_completion``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Sequence

import chatplug
from chatplug import (
    AsyncClient,
    CompletionRequest,
    ModelInfo,
    Registry,
    RetryPolicy,
    StreamProtocolError,
    Timeout,
    hookimpl,
    open_stream,
)
from chatplug.decoders import iter_ndjson, iter_sse, iter_text, parse_json

MODEL = "m"
UNUSED_URL = "http://127.0.0.1:9"  # plugins' own default; every test overrides it

# tight timeouts so that a hang shows up as a failure within a second
FAST_TIMEOUT = Timeout(connect=1.0, first_byte=1.0, idle=1.0, total=None)
NO_RETRY = RetryPolicy(attempts=1)
QUICK_RETRY = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.05, max_time=2.0, jitter=0.1)


# --------------------------------------------------------------------------- wire formats


def sse_event(text: str) -> bytes:
    """One OpenAI-style chunk as a Server-Sent Event."""
    payload = {"choices": [{"delta": {"content": text}}]}
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def sse_body(pieces: Sequence[str], done: bool = True) -> bytes:
    return b"".join(sse_event(piece) for piece in pieces) + (b"data: [DONE]\n\n" if done else b"")


def ndjson_line(text: str) -> bytes:
    return json.dumps({"data": {"message": text}}, ensure_ascii=False).encode() + b"\n"


def ndjson_body(pieces: Sequence[str]) -> bytes:
    return b"".join(ndjson_line(piece) for piece in pieces)


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunked-encoding frame."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


# --------------------------------------------------------------------------- the upstream


@dataclass
class Seen:
    """One request as the upstream saw it."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


REASONS = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 503: "Unavailable"}


def _status_line(status: int) -> str:
    return f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"


class Conn:
    """One accepted connection, driven by a script."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: "Scripted"
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.server = server
        self.sent = 0

    async def request(self) -> Seen:
        """Read one HTTP request (headers and Content-Length body)."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        seen = Seen(method, path, headers, body)
        self.server.requests.append(seen)
        return seen

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()
        self.sent += len(data)
        self.server.bytes_sent += len(data)

    async def head(
        self,
        status: int = 200,
        headers: Optional[Dict[str, str]] = None,
        *,
        chunked: bool = True,
        content_type: str = "text/event-stream",
    ) -> None:
        """The status line and headers; the body is chunked or delimited by closing."""
        lines = [_status_line(status), f"Content-Type: {content_type}"]
        lines.append("Transfer-Encoding: chunked" if chunked else "Connection: close")
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def respond(
        self,
        status: int,
        body: bytes,
        headers: Optional[Dict[str, str]] = None,
        content_type: str = "text/plain",
    ) -> None:
        """A whole response with a Content-Length."""
        extra = {"Content-Length": str(len(body)), **(headers or {})}
        lines = [_status_line(status), f"Content-Type: {content_type}"]
        lines += [f"{key}: {value}" for key, value in extra.items()]
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    async def body(self, data: bytes) -> None:
        """A complete chunked body in one frame plus the last-chunk marker."""
        await self.send(chunk(data) + LAST_CHUNK)

    async def drip(self, data: bytes, every: float, *, chunked: bool = False) -> None:
        for i in range(len(data)):
            await self.send(chunk(data[i : i + 1]) if chunked else data[i : i + 1])
            await asyncio.sleep(every)

    async def end(self) -> None:
        """Close our side cleanly (FIN): ends a body delimited by closing."""
        self.writer.write_eof()
        await self.writer.drain()

    async def stall(self, limit: float = 10.0) -> None:
        """Send nothing until the client goes away (or ``limit`` seconds pass)."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), limit):
                pass
        except (asyncio.TimeoutError, ConnectionError):
            return

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Script = Callable[[Conn], Awaitable[None]]


class Scripted:
    """A scripted HTTP/1.1 upstream on 127.0.0.1; use as ``async with Scripted(*scripts)``."""

    def __init__(self, *scripts: Script) -> None:
        self.scripts = list(scripts)
        self.requests: List[Seen] = []
        self.connections = 0  # TCP connections accepted
        self.exchanges = 0  # scripts run (one per request, keep-alive included)
        self.bytes_sent = 0
        self.client_closed = 0  # connections the client closed while the script waited
        self.closed_event = asyncio.Event()
        self._server: Optional[asyncio.base_events.Server] = None
        self._tasks: List["asyncio.Task[None]"] = []
        self.errors: List[BaseException] = []

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> "Scripted":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if self.errors and exc_info[0] is None:
            raise AssertionError(f"the upstream's script failed: {self.errors[0]!r}")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.append(task)
        self.connections += 1
        conn = Conn(reader, writer, self)
        try:
            while True:  # one script per exchange; keep-alive connections run the next one
                script = self.scripts[min(self.exchanges, len(self.scripts) - 1)]
                self.exchanges += 1
                await script(conn)
                more = await asyncio.wait_for(reader.read(65536), 5.0)
                if not more:  # the client closed its side
                    break
                reader.feed_data(more)  # a new request on the same connection
            self.client_closed += 1
            self.closed_event.set()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.client_closed += 1
            self.closed_event.set()
        except (asyncio.CancelledError, asyncio.TimeoutError):
            pass
        except Exception as error:  # a broken script must fail the test, not hide
            self.errors.append(error)
        finally:
            writer.transport.abort()

    async def wait_client_closed(self, count: int = 1, limit: float = 3.0) -> None:
        """Until the client has closed ``count`` connections (fails after ``limit`` s)."""
        deadline = asyncio.get_running_loop().time() + limit
        while self.client_closed < count:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"client closed {self.client_closed} of {count} connections"
            self.closed_event.clear()
            try:
                await asyncio.wait_for(self.closed_event.wait(), remaining)
            except asyncio.TimeoutError:
                pass


def unresponsive_url() -> "tuple[str, Callable[[], None]]":
    """A 127.0.0.1 URL whose listen queue is full: a connect there hangs (connect timeout).

    Returns the URL and a function that closes the sockets.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue; later SYNs are dropped, never answered
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)

    def close() -> None:
        for sock in [server, *fillers]:
            sock.close()

    return f"http://127.0.0.1:{port}", close


def refused_url() -> str:
    """A 127.0.0.1 URL on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- scripts


def sse_ok(pieces: Sequence[str] = ("Hel", "lo ", "wörld")) -> Script:
    async def script(conn: Conn) -> None:
        await conn.request()
        await conn.head()
        for piece in pieces:
            await conn.send(chunk(sse_event(piece)))
        await conn.send(chunk(b"data: [DONE]\n\n") + LAST_CHUNK)

    return script


def status(code: int, headers: Optional[Dict[str, str]] = None, body: bytes = b"nope") -> Script:
    async def script(conn: Conn) -> None:
        await conn.request()
        await conn.respond(code, body, headers)

    return script


# --------------------------------------------------------------------------- plugins


class _Plugin:
    """A provider of one model ``m`` (so that a bare model id spans every test provider)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo(MODEL, self.name, default=True)]


class SSEPlugin(_Plugin):
    """OpenAI-style chunks over SSE, ended by ``data: [DONE]`` (like Vitalentum)."""

    require_done = True

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        url = request.url(UNUSED_URL, "/chat")
        async with open_stream(session, request, "POST", url, json={"p": request.prompt}) as resp:
            async for data in iter_sse(resp):
                if data == "[DONE]":
                    return
                delta = parse_json(data)["choices"][0].get("delta") or {}
                text = delta.get("content")
                if text:
                    yield text
        if self.require_done:
            raise StreamProtocolError("the stream ended without [DONE] (truncated)")


class LenientSSEPlugin(SSEPlugin):
    """SSE whose end is the end of the body (no ``[DONE]``): only the decoder sees a cut."""

    require_done = False


class NDJSONPlugin(_Plugin):
    """One JSON object per line with text at ``data.message``; other lines skipped."""

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        url = request.url(UNUSED_URL, "/chat")
        async with open_stream(session, request, "POST", url, json={"p": request.prompt}) as resp:
            async for item in iter_ndjson(resp, skip_invalid=True):
                message = item.get("data", {}).get("message") if isinstance(item, dict) else None
                if isinstance(message, str) and message:
                    yield message


class TextPlugin(_Plugin):
    """A plain-text body streamed as it arrives (like AI365VIP)."""

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        url = request.url(UNUSED_URL, "/chat")
        async with open_stream(session, request, "POST", url, json={"p": request.prompt}) as resp:
            async for text in iter_text(resp):
                yield text


class BrokenPlugin(_Plugin):
    """A plugin bug: raises inside ``stream_completion`` before any text."""

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        raise RuntimeError("boom in the plugin")
        yield ""  # pragma: no cover - makes this an async generator


class HalfBrokenPlugin(_Plugin):
    """A plugin bug after text: yields ``"abc"`` then raises."""

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        yield "abc"
        raise KeyError("choices")


KINDS: Dict[str, Callable[[str], _Plugin]] = {
    "sse": SSEPlugin,
    "sse-lenient": LenientSSEPlugin,
    "ndjson": NDJSONPlugin,
    "text": TextPlugin,
    "broken": BrokenPlugin,
    "halfbroken": HalfBrokenPlugin,
}


def make_client(
    providers: Dict[str, "tuple[str, str]"],
    *,
    order: Optional[Sequence[str]] = None,
    timeout: Timeout = FAST_TIMEOUT,
    retry: RetryPolicy = NO_RETRY,
    **kwargs: Any,
) -> AsyncClient:
    """An :class:`AsyncClient` over in-test providers ``{name: (kind, base_url)}`` only."""
    registry = Registry(discover=False)
    for name, (kind, _) in providers.items():
        registry.register(name, KINDS[kind](name))
    return AsyncClient(
        providers=list(order if order is not None else providers),
        base_urls={name: url for name, (_, url) in providers.items()},
        registry=registry,
        timeout=timeout,
        retry=retry,
        **kwargs,
    )


@dataclass
class Outcome:
    """What a caller got from one stream: the text, and the error that ended it (if any)."""

    text: str
    error: Optional[BaseException]
    attempts: List["tuple[str, str]"]
    provider: Optional[str]
    elapsed: float

    @property
    def complete(self) -> bool:
        return self.error is None


async def collect(client: AsyncClient, messages: Any = "hi", **kwargs: Any) -> Outcome:
    """Stream to the end (or the error), checking that a partial answer is never complete.

    An error after text must carry ``partial_length`` equal to the characters received;
    an error before any text must not.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    pieces: List[str] = []
    error: Optional[BaseException] = None
    stream = client.stream(messages, **kwargs)
    try:
        async with stream:
            async for piece in stream:
                assert isinstance(piece, str) and piece, f"empty or non-text piece {piece!r}"
                pieces.append(piece)
    except chatplug.ChatplugError as raised:
        error = raised
        received = len("".join(pieces))
        assert raised.partial_length == (received or None), (
            f"partial_length {raised.partial_length} but {received} characters were received"
        )
    text = "".join(pieces)
    return Outcome(text, error, list(stream.attempts), stream.provider, loop.time() - started)


def acquired(client: AsyncClient) -> int:
    """Connections the client's pool has handed out and not got back (a leak if > 0 at rest)."""
    connector = client.session.connector
    assert connector is not None
    return len(connector._acquired)  # type: ignore[attr-defined]


async def settle(client: AsyncClient) -> int:
    """Let finalizers run, then the number of connections still checked out."""
    for _ in range(5):
        await asyncio.sleep(0)
    return acquired(client)
