"""Scripted replies and in-test provider plugins for the fault-injection suite.

The upstream is the kit's :class:`~chatplug.testing.ScriptedUpstream` on 127.0.0.1: each
request gets the next scripted :class:`~chatplug.testing.Reply` (the last one repeats), so
that every byte, pause, reset and half-written frame is under the test's control; it
records every request and whether the client closed its connection (the proof that an
abandoned stream released it).  The builders here (:func:`sse_ok`, :func:`status`,
:func:`stream`) answer keep-alive, like a real HTTP/1.1 server.

The plugins speak three wire formats through the core decoders: SSE (like Vitalentum),
NDJSON (like AiChatOnline) and plain text (like AI365VIP); ``BrokenPlugin`` raises inside
``stream_completion``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence

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
from chatplug.testing import Reply

MODEL = "m"
UNUSED_URL = "http://127.0.0.1:9"  # plugins' own default; every test overrides it

# tight timeouts so that a hang shows up as a failure within a second
FAST_TIMEOUT = Timeout(connect=1.0, first_byte=1.0, idle=1.0, total=None)
NO_RETRY = RetryPolicy(attempts=1)
QUICK_RETRY = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.05, max_time=2.0, jitter=0.1)
SSE = "text/event-stream"
DONE = b"data: [DONE]\n\n"


# --------------------------------------------------------------------------- wire formats


def sse_event(text: str) -> bytes:
    """One OpenAI-style chunk as a Server-Sent Event."""
    payload = {"choices": [{"delta": {"content": text}}]}
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def sse_body(pieces: Sequence[str], done: bool = True) -> bytes:
    return b"".join(sse_event(piece) for piece in pieces) + (DONE if done else b"")


def ndjson_line(text: str) -> bytes:
    return json.dumps({"data": {"message": text}}, ensure_ascii=False).encode() + b"\n"


def ndjson_body(pieces: Sequence[str]) -> bytes:
    return b"".join(ndjson_line(piece) for piece in pieces)


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunked-encoding frame (for bodies that cut the framing itself)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


# --------------------------------------------------------------------------- replies


def stream(*frames: bytes, content_type: str = SSE, **fields: Any) -> Reply:
    """A 200 response whose body is ``frames``, each written on its own (a chunk when the
    framing is chunked); ``fields`` are :class:`Reply` fields (``end``, ``delay``...)."""
    fields.setdefault("keep_alive", True)
    return Reply(chunks=frames, headers={"Content-Type": content_type}, **fields)


def raw_chunked(data: bytes, *, content_type: str = SSE, **fields: Any) -> Reply:
    """A chunked response whose body bytes (frames included) are ``data`` exactly."""
    headers = {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
    return Reply(chunks=[data], headers=headers, framing="eof", **fields)


def sse_ok(pieces: Sequence[str] = ("Hel", "lo ", "wörld")) -> Reply:
    return stream(*map(sse_event, pieces), DONE)


def status(code: int, headers: Optional[Dict[str, str]] = None, body: bytes = b"nope") -> Reply:
    return Reply.error(code, body, headers=headers, keep_alive=True)


# --------------------------------------------------------------------------- addresses


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
