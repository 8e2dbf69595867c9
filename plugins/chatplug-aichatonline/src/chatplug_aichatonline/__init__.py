"""chatplug provider ``aichatonline``: AiChatOnline (https://aichatonline.org), ``gpt-4o-mini``.

The upstream has no message history: the conversation arrives already rendered into one
prompt by the core's ``format_prompt``.  A completion takes two requests:

1. ``GET /api/v1/user/getUniqueId?canvas=-<random>`` answers ``{"data": "<unique id>"}``.
   The id is cached per (aiohttp session, API base URL) and refreshed once when the chat
   endpoint answers HTTP 401 (a stale id).
2. ``POST /aichatonline/api/chat/gpt`` with the header ``UniqueId: <id>`` and the body
   ``{"conversationId": <random>, "prompt": <prompt>}`` streams newline-delimited JSON;
   each text piece is at ``data.message``.

Parsing rules (see :class:`MessageParser`): blank lines, lines that are not JSON
(keep-alives) and JSON values without a string ``data.message`` (status lines) carry no
text and are skipped (so is a sentinel such as ``[DONE]``).  A line that starts like a
JSON object (``{``) but does not parse is reported as malformed instead of skipped: text
only ever travels in objects, so a broken one is a corrupt or cut piece of the answer, not
a keep-alive.  A stream that ends in the middle of an object, or carries no text at all,
raises :class:`chatplug.StreamProtocolError`; the end of a stream with text is the end of
the answer (finish ``stop``).  A third-party web chat: text only, no capabilities.
"""

from __future__ import annotations

import contextlib
import json
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncContextManager,
    AsyncIterator,
    Dict,
    List,
    Optional,
    Tuple,
)

from chatplug import (
    AuthenticationError,
    CompletionRequest,
    ModelInfo,
    StreamProtocolError,
    browser_headers,
    hookimpl,
    open_stream,
)
from chatplug import format_prompt as default_format_prompt
from chatplug.decoders import DEFAULT_MAX_SIZE, LineDecoder
from chatplug.events import Finish, StreamItem
from chatplug.options import text_option
from chatplug.types import WEB_CHAT

if TYPE_CHECKING:  # pragma: no cover
    import asyncio  # imported where used: ~20 ms of `chatplug models` otherwise

    import aiohttp

__version__ = "0.2.0"

PROVIDER = "aichatonline"
MODEL = "gpt-4o-mini"
SITE_URL = "https://aichatonline.org"
API_URL = "https://aichatonlineorg.erweima.ai"
UNIQUE_ID_PATH = "/api/v1/user/getUniqueId"
CHAT_PATH = "/aichatonline/api/chat/gpt"
UNIQUE_ID_HEADER = "UniqueId"
#: a getUniqueId answer larger than this is not the small JSON document we expect
UNIQUE_ID_MAX_BYTES = 64 * 1024
EXCERPT = 80


@hookimpl
def list_models() -> List[ModelInfo]:
    """The catalogue: one model, the default."""
    return [
        ModelInfo(
            MODEL,
            PROVIDER,
            default=True,
            name="GPT-4o mini",
            metadata={
                "url": SITE_URL,
                "api_url": API_URL,
                "working": True,
                "capabilities": ("chat", "streaming", "system-prompt"),
            },
            upstream=WEB_CHAT,
        )
    ]


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[StreamItem]:
    """Stream the answer's text pieces (see the module docstring for the protocol)."""
    base = request.url(API_URL)
    body = {"conversationId": random_string(), "prompt": prompt_of(request)}
    async with contextlib.AsyncExitStack() as stack:
        # The 401 retry happens while *opening* the response, never around the yields.
        response = await _open_chat(stack, session, request, base, body)
        parser = MessageParser()
        async for chunk in response.content.iter_any():
            for text in parser.feed(chunk):
                yield text
        for text in parser.close():  # raises when the stream carried no text
            yield text
    yield Finish("stop")


def prompt_of(request: CompletionRequest) -> str:
    """The prompt to send: the rendered conversation, with the ``system`` option in front.

    The upstream has no system prompt field: a ``system`` option is rendered like a first
    ``system`` message (``System: ...``).  No other option is sent.
    """
    system = text_option(request.options, "system", provider=PROVIDER)
    if system is None or not system.strip():
        return request.prompt
    return default_format_prompt(({"role": "system", "content": system}, *request.messages))


async def _open_chat(
    stack: "contextlib.AsyncExitStack",
    session: "aiohttp.ClientSession",
    request: CompletionRequest,
    base: str,
    body: Dict[str, str],
) -> "aiohttp.ClientResponse":
    """POST the chat request; on HTTP 401 with a cached id, refresh the id once and retry."""
    unique_id, cached = await UNIQUE_IDS.get(session, request, base)
    try:
        return await stack.enter_async_context(_post(session, request, base, body, unique_id))
    except AuthenticationError as error:
        if error.status != 401 or not cached:
            raise
    unique_id = await UNIQUE_IDS.refresh(session, request, base, stale=unique_id)
    return await stack.enter_async_context(_post(session, request, base, body, unique_id))


def _post(
    session: "aiohttp.ClientSession",
    request: CompletionRequest,
    base: str,
    body: Dict[str, str],
    unique_id: str,
) -> "AsyncContextManager[aiohttp.ClientResponse]":
    headers = _headers(accept="*/*")
    headers[UNIQUE_ID_HEADER] = unique_id
    return open_stream(session, request, "POST", base + CHAT_PATH, headers=headers, json=body)


def _headers(**extra: str) -> Dict[str, str]:
    # the API lives on another site than the web app: a browser sends "cross-site"
    return browser_headers(
        SITE_URL, SITE_URL + "/chatgpt/chat/", sec_fetch_site="cross-site", **extra
    )


def random_string(length: int = 10) -> str:
    """A random ``[0-9a-f]`` string, as the web app sends for ``canvas`` and conversation ids."""
    import secrets

    return secrets.token_hex((length + 1) // 2)[:length]


async def fetch_unique_id(
    session: "aiohttp.ClientSession", request: CompletionRequest, base: str
) -> str:
    """GET a new UniqueId (through the request's proxy, with its timeouts)."""
    params = {"canvas": "-" + random_string()}
    headers = _headers(accept="application/json, text/plain, */*")
    url = base + UNIQUE_ID_PATH
    async with open_stream(
        session, request, "GET", url, headers=headers, params=params
    ) as response:
        raw = bytearray()
        async for chunk in response.content.iter_any():
            raw += chunk
            if len(raw) > UNIQUE_ID_MAX_BYTES:
                raise StreamProtocolError(
                    f"the getUniqueId answer is over {UNIQUE_ID_MAX_BYTES} bytes", provider=PROVIDER
                )
    try:
        document = json.loads(bytes(raw))
    except ValueError:
        document = None
    unique_id = document.get("data") if isinstance(document, dict) else None
    if not isinstance(unique_id, str) or not unique_id.strip():
        raise StreamProtocolError(
            f"getUniqueId answered without a string 'data': {_excerpt(bytes(raw))!r}",
            provider=PROVIDER,
            hint="The upstream's protocol may have changed; the plugin may be out of date.",
        )
    return unique_id


class UniqueIdCache:
    """UniqueIds per (aiohttp session, API base URL); one fetch at a time per key.

    Entries go away with their session (weak keys), so a closed client leaks nothing.
    """

    def __init__(self) -> None:
        self._ids: "weakref.WeakKeyDictionary[Any, Dict[str, str]]" = weakref.WeakKeyDictionary()
        self._locks: "weakref.WeakKeyDictionary[Any, Dict[str, asyncio.Lock]]" = (
            weakref.WeakKeyDictionary()
        )

    def cached(self, session: "aiohttp.ClientSession", base: str) -> Optional[str]:
        return self._ids.get(session, {}).get(base)

    def forget(self, session: "aiohttp.ClientSession", base: Optional[str] = None) -> None:
        """Drop the cached id of ``base`` (every id of the session when ``base`` is None)."""
        if base is None:
            self._ids.pop(session, None)
        else:
            self._ids.get(session, {}).pop(base, None)

    async def get(
        self, session: "aiohttp.ClientSession", request: CompletionRequest, base: str
    ) -> Tuple[str, bool]:
        """The id to use and whether it came from the cache (``False``: just fetched)."""
        unique_id = self.cached(session, base)
        if unique_id is not None:
            return unique_id, True
        async with self._lock(session, base):
            unique_id = self.cached(session, base)
            if unique_id is not None:  # another completion fetched it meanwhile
                return unique_id, True
            unique_id = await fetch_unique_id(session, request, base)
            self._ids.setdefault(session, {})[base] = unique_id
            return unique_id, False

    async def refresh(
        self,
        session: "aiohttp.ClientSession",
        request: CompletionRequest,
        base: str,
        *,
        stale: str,
    ) -> str:
        """A new id replacing ``stale`` (reusing one another completion already fetched)."""
        async with self._lock(session, base):
            current = self.cached(session, base)
            if current is not None and current != stale:
                return current
            self.forget(session, base)
            unique_id = await fetch_unique_id(session, request, base)
            self._ids.setdefault(session, {})[base] = unique_id
            return unique_id

    def _lock(self, session: "aiohttp.ClientSession", base: str) -> asyncio.Lock:
        locks = self._locks.setdefault(session, {})
        lock = locks.get(base)
        if lock is None:
            import asyncio

            lock = locks[base] = asyncio.Lock()
        return lock


#: the process-wide cache used by :func:`stream_completion`
UNIQUE_IDS = UniqueIdCache()


class MessageParser:
    """Incremental parser of the chat endpoint's NDJSON stream: bytes in, text pieces out.

    ``feed`` accepts chunks split anywhere (inside a line or a UTF-8 character);
    ``close`` must be called at the end of the stream and raises
    :class:`chatplug.StreamProtocolError` when the stream ended mid-object or carried no
    text at all.  Lines are bounded by ``max_size`` bytes.
    """

    __slots__ = ("_last_skipped", "_lines", "text_length")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._lines = LineDecoder(max_size)
        self.text_length = 0
        self._last_skipped: Optional[bytes] = None

    def feed(self, chunk: bytes) -> List[str]:
        pieces: List[str] = []
        for line in self._lines.feed(chunk):
            text = self._line(line)
            if text:
                pieces.append(text)
        return pieces

    def close(self) -> List[str]:
        pieces: List[str] = []
        tail = self._lines.close()
        if tail is not None and tail.strip():
            stripped = tail.strip()
            if stripped[:1] == b"{":
                try:
                    value = json.loads(stripped)
                except ValueError:
                    raise StreamProtocolError(
                        f"the stream ended in the middle of a JSON object: {_excerpt(stripped)!r}",
                        provider=PROVIDER,
                        hint="The upstream cut the answer short; try again.",
                    ) from None
                text = self._value(value, stripped)
            else:
                text = self._line(tail)
            if text:
                pieces.append(text)
        if not self.text_length:
            detail = f" (last line: {_excerpt(self._last_skipped)!r})" if self._last_skipped else ""
            raise StreamProtocolError(
                f"the stream ended without any text{detail}",
                provider=PROVIDER,
                hint="The upstream answered with nothing; try again or use another provider.",
            )
        return pieces

    def _line(self, line: bytes) -> Optional[str]:
        stripped = line.strip()
        if not stripped:
            return None
        try:
            value = json.loads(stripped)
        except ValueError:
            if stripped[:1] == b"{":
                raise StreamProtocolError(
                    f"malformed JSON object in the stream: {_excerpt(stripped)!r}",
                    provider=PROVIDER,
                    hint="The upstream's protocol may have changed; the plugin may be out of date.",
                ) from None
            self._last_skipped = stripped  # a keep-alive or status line: no text
            return None
        return self._value(value, stripped)

    def _value(self, value: Any, raw: bytes) -> Optional[str]:
        data = value.get("data") if isinstance(value, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        if message is None:
            self._last_skipped = raw  # a status line: no text
            return None
        if not isinstance(message, str):
            raise StreamProtocolError(
                f"data.message is a {type(message).__name__}, not a string: {_excerpt(raw)!r}",
                provider=PROVIDER,
                hint="The upstream's protocol may have changed; the plugin may be out of date.",
            )
        self.text_length += len(message)
        return message


def _excerpt(raw: bytes) -> str:
    return raw[:EXCERPT].decode(errors="replace")


__all__ = [
    "API_URL",
    "CHAT_PATH",
    "MODEL",
    "PROVIDER",
    "SITE_URL",
    "UNIQUE_IDS",
    "UNIQUE_ID_PATH",
    "MessageParser",
    "UniqueIdCache",
    "fetch_unique_id",
    "list_models",
    "prompt_of",
    "random_string",
    "stream_completion",
]
