"""chatplug provider plugin for Vitalentum (``https://app.vitalentum.io``).

One ``POST /api/converse-edge`` per completion; the conversation travels as a JSON *string*
``{"history": [{"speaker": "human"|"bot", "text": ...}]}``; the answer streams back as
Server-Sent Events carrying OpenAI-style chunks, ended by ``data: [DONE]``.

System instructions (the ``system`` option first, then each ``system`` message in order)
are prefixed to the next human turn, separated by a blank line: the upstream only knows
the speakers ``human`` and ``bot``, and an instruction sent as a ``bot`` turn would read as
something the assistant already said.  Only the options in :data:`OPTIONS` are sent.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)
from urllib.parse import urlsplit

from chatplug import (
    CompletionRequest,
    InvalidRequestError,
    ModelInfo,
    StreamProtocolError,
    UpstreamError,
    browser_headers,
    hookimpl,
    open_stream,
)
from chatplug.decoders import SSEDecoder, parse_json

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__all__ = [
    "DEFAULT_TEMPERATURE",
    "DONE",
    "MODEL",
    "OPTIONS",
    "PATH",
    "PROVIDER",
    "URL",
    "EventStream",
    "build_history",
    "delta_text",
    "list_models",
    "request_body",
    "request_headers",
    "stream_completion",
]

PROVIDER = "vitalentum"
URL = "https://app.vitalentum.io"
PATH = "/api/converse-edge"
MODEL = "gpt-3.5-turbo"
DEFAULT_TEMPERATURE = 0.7
DONE = "[DONE]"
#: after ``[DONE]``, how long and how much to read to reach the end of the body
DRAIN_SECONDS = 0.25
DRAIN_BYTES = 64 * 1024
#: bytes of a body that is not an event stream quoted in the error
EXCERPT = 120

#: The options sent to the upstream, each with its allowed range; every other option
#: (``stream``, ``model``, another provider's settings...) is dropped, never leaked.
#: ``system`` is not sent as such: it becomes part of the first human turn.
OPTIONS: Dict[str, Tuple[float, float, bool]] = {
    # name: (minimum, maximum, integer only)
    "temperature": (0.0, 2.0, False),
    "top_p": (0.0, 1.0, False),
    "max_tokens": (1, 1 << 20, True),
    "presence_penalty": (-2.0, 2.0, False),
    "frequency_penalty": (-2.0, 2.0, False),
}

logger = logging.getLogger(__name__)


@hookimpl
def list_models() -> List[ModelInfo]:
    return [
        ModelInfo(
            MODEL,
            PROVIDER,
            default=True,
            name="GPT-3.5 Turbo",
            metadata={
                "url": URL,
                "working": True,
                "capabilities": ("chat", "streaming", "history", "system-prompt"),
            },
        )
    ]


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[str]:
    body = request_body(request)
    headers = _headers(request.base_url or URL)
    url = request.url(URL, PATH)
    async with open_stream(session, request, "POST", url, headers=headers, json=body) as response:
        parser = EventStream(request.provider)
        async for chunk in response.content.iter_any():
            for text in parser.feed(chunk):
                yield text
            if parser.done:
                await _drain(response)
                return
        for text in parser.close():
            yield text


async def _drain(response: "aiohttp.ClientResponse") -> None:
    """After ``[DONE]``: read the end of the body (normally already received, at most
    :data:`DRAIN_BYTES` within :data:`DRAIN_SECONDS`) so that the connection goes back to
    the pool instead of being closed with unread data."""
    import asyncio  # here: importing asyncio costs ~20 ms of `chatplug models`

    content = response.content
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    seen = 0
    while not content.is_eof() and seen < DRAIN_BYTES:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        try:
            seen += len(await asyncio.wait_for(content.readany(), remaining))
        except Exception:  # the answer is complete; the connection is merely not reused
            return


@functools.lru_cache(maxsize=64)
def _headers(base: str) -> Mapping[str, str]:
    """:func:`request_headers`, built once per base URL (aiohttp copies, never mutates)."""
    return request_headers(base)


def request_headers(base: str) -> Dict[str, str]:
    """The browser-like headers of the converse-edge request for the site at ``base``."""
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else base.rstrip("/")
    return browser_headers(origin, base.rstrip("/") + "/", accept="text/event-stream")


def request_body(request: CompletionRequest) -> Dict[str, Any]:
    """The JSON body: the history as a JSON string, the temperature and allowed options."""
    options = request.options
    system = options.get("system")
    if system is not None and not isinstance(system, str):
        raise InvalidRequestError(
            f"the system option must be a string, not {type(system).__name__}",
            provider=request.provider,
        )
    history = build_history(request.messages, system)
    body: Dict[str, Any] = {
        "conversation": json.dumps({"history": history}, ensure_ascii=False),
        "temperature": DEFAULT_TEMPERATURE,
    }
    for name, value in options.items():
        if name in OPTIONS:
            body[name] = _checked_option(name, value, request.provider)
        elif name != "system":
            logger.debug("vitalentum: option %r is not understood upstream; not sent", name)
    return body


def build_history(
    messages: Sequence[Mapping[str, str]], system: Optional[str] = None
) -> List[Dict[str, str]]:
    """The upstream's history: ``user`` → ``human``, ``assistant`` → ``bot``.

    System text (``system``, then each system message) is prefixed to the next human
    turn with a blank line in between; system text after the last human turn becomes a
    human turn of its own.
    """
    history: List[Dict[str, str]] = []
    pending: List[str] = [system] if system and system.strip() else []
    for message in messages:
        role, text = message["role"], message["content"]
        if role == "system":
            if text.strip():
                pending.append(text)
        elif role == "user":
            if pending:
                text = "\n\n".join([*pending, text])
                pending = []
            history.append({"speaker": "human", "text": text})
        else:
            history.append({"speaker": "bot", "text": text})
    if pending:
        history.append({"speaker": "human", "text": "\n\n".join(pending)})
    return history


def _checked_option(name: str, value: Any, provider: str) -> Any:
    low, high, integer = OPTIONS[name]
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if integer else "a number"
        raise InvalidRequestError(f"option {name}={value!r} must be {expected}", provider=provider)
    if not low <= value <= high:
        raise InvalidRequestError(
            f"option {name}={value!r} is out of range [{low:g}, {high:g}]", provider=provider
        )
    return value


class EventStream:
    """Incremental parser of the converse-edge response (Server-Sent Events).

    :meth:`feed` takes raw network chunks (split anywhere) and returns the text pieces
    that became complete; ``done`` turns true at ``data: [DONE]``, after which the rest is
    ignored.  :meth:`close` at the end of the body raises :class:`StreamProtocolError` when
    ``[DONE]`` never came (a truncated stream is not a complete answer).  An error in a
    chunk is raised after the text that preceded it in the same chunk was returned.
    """

    __slots__ = ("_decoder", "_error", "_seen", "_start", "done", "provider")

    def __init__(self, provider: Optional[str] = PROVIDER) -> None:
        self.provider = provider
        self.done = False
        self._decoder = SSEDecoder()
        self._error: Optional[UpstreamError] = None
        self._seen = False  # any event at all (else the body is not an event stream)
        self._start = b""  # the body's first bytes, quoted when it is not an event stream

    def feed(self, chunk: bytes) -> List[str]:
        if self._error is not None:
            raise self._error
        if self.done:
            return []
        if not self._seen and len(self._start) < EXCERPT:
            self._start += chunk[: EXCERPT - len(self._start)]
        return self._texts(self._decoder.feed, chunk)

    def close(self) -> List[str]:
        if self._error is not None:
            raise self._error
        if self.done:
            return []
        try:
            texts = self._texts(lambda _: self._decoder.close(), b"")
        except StreamProtocolError:
            if not self._seen:
                raise self._not_an_event_stream() from None
            raise
        if self._error is not None:
            raise self._error
        if not self.done:
            if not self._seen:
                raise self._not_an_event_stream()
            raise StreamProtocolError(
                "the stream ended without 'data: [DONE]' (truncated)", provider=self.provider
            )
        return texts

    def _not_an_event_stream(self) -> StreamProtocolError:
        excerpt = self._start.decode(errors="replace")
        return StreamProtocolError(
            f"the response is not a server-sent event stream; it starts with {excerpt!r}",
            provider=self.provider,
        )

    def _texts(self, decode: Callable[[bytes], List[str]], chunk: bytes) -> List[str]:
        texts: List[str] = []
        try:
            for data in decode(chunk):
                self._seen = True
                if data == DONE:
                    self.done = True
                    break
                text = delta_text(data)
                if text:
                    texts.append(text)
        except UpstreamError as error:
            if error.provider is None:
                error.provider = self.provider
            if not texts:
                raise
            self._error = error  # raised at the next call, once the text before it is out
        return texts


def delta_text(data: str) -> str:
    """The text of one ``data:`` payload: ``choices[0].delta.content`` (``""`` if none).

    Raises :class:`StreamProtocolError` for malformed JSON or an unexpected shape, and
    :class:`UpstreamError` for an error object sent in the stream.
    """
    chunk = parse_json(data)
    try:  # the fast path: a chunk with text
        content = chunk["choices"][0]["delta"]["content"]
        if type(content) is str:
            return content
    except (KeyError, IndexError, TypeError):
        pass
    return _checked_text(chunk, data)


def _checked_text(chunk: Any, data: str) -> str:
    """:func:`delta_text` for chunks without text, or malformed ones."""
    if not isinstance(chunk, dict):
        raise StreamProtocolError(f"expected a JSON object in the stream, got {data[:80]!r}")
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        error = chunk.get("error")
        if error is not None:
            message = error.get("message", error) if isinstance(error, dict) else error
            raise UpstreamError(f"the upstream reported an error in the stream: {message}")
        raise StreamProtocolError(f"a stream chunk without 'choices': {data[:80]!r}")
    if not choices:
        return ""
    choice = choices[0]
    delta = choice.get("delta") if isinstance(choice, dict) else None
    if delta is None:
        if isinstance(choice, dict):
            return ""
        raise StreamProtocolError(f"a stream chunk with a malformed choice: {data[:80]!r}")
    if not isinstance(delta, dict):
        raise StreamProtocolError(f"a stream chunk with a malformed delta: {data[:80]!r}")
    content = delta.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        raise StreamProtocolError(f"a stream chunk with non-text content: {data[:80]!r}")
    return content
