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
from typing import TYPE_CHECKING, AsyncContextManager, AsyncIterator, Dict, List

from chatplug import AuthenticationError, CompletionRequest, ModelInfo, hookimpl, open_stream
from chatplug import format_prompt as default_format_prompt
from chatplug.events import Finish, StreamItem
from chatplug.options import text_option
from chatplug.types import WEB_CHAT

from .parser import MessageParser
from .site import (
    API_URL,
    CHAT_PATH,
    EXCERPT,
    MODEL,
    PROVIDER,
    SITE_URL,
    UNIQUE_ID_HEADER,
    UNIQUE_ID_MAX_BYTES,
    UNIQUE_ID_PATH,
    random_string,
    site_headers,
)
from .unique_ids import UNIQUE_IDS, UniqueIdCache, fetch_unique_id

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__version__ = "0.2.0"


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
    headers = site_headers(accept="*/*")
    headers[UNIQUE_ID_HEADER] = unique_id
    return open_stream(session, request, "POST", base + CHAT_PATH, headers=headers, json=body)


__all__ = [
    "API_URL",
    "EXCERPT",
    "UNIQUE_ID_HEADER",
    "UNIQUE_ID_MAX_BYTES",
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
