"""chatplug provider plugin for Vitalentum (``https://app.vitalentum.io``).

One ``POST /api/converse-edge`` per completion; the conversation travels as a JSON *string*
``{"history": [{"speaker": "human"|"bot", "text": ...}]}``; the answer streams back as
Server-Sent Events carrying OpenAI-style chunks, ended by ``data: [DONE]`` (parsed by the
core's :class:`chatplug.openai_chunks.ChatChunkParser`: text, the finish reason, the
response id and model).  A stream with text but without a finish reason finishes with
``stop``.

System instructions (the ``system`` option first, then each ``system`` message in order)
are prefixed to the next human turn, separated by a blank line: the upstream only knows
the speakers ``human`` and ``bot``, and an instruction sent as a ``bot`` turn would read as
something the assistant already said.  Only the options in :data:`OPTIONS` are sent.
A third-party web chat: text only, no capabilities.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Mapping, Optional, Sequence

from chatplug import CompletionRequest, ModelInfo, hookimpl, open_stream
from chatplug.events import Finish, StreamItem
from chatplug.http import site_headers
from chatplug.openai_chunks import DONE, ChatChunkParser
from chatplug.options import STANDARD_RANGES, Range, checked_options, text_option
from chatplug.parsing import iter_batches
from chatplug.types import WEB_CHAT

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

#: The options sent to the upstream, each with its allowed range; every other option
#: (``stream``, ``model``, another provider's settings...) is dropped, never leaked.
#: ``system`` is not sent as such: it becomes part of the first human turn.
OPTIONS: Mapping[str, Range] = STANDARD_RANGES


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
            upstream=WEB_CHAT,
        )
    ]


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[StreamItem]:
    body = request_body(request)
    headers = _headers(request.base_url or URL)
    url = request.url(URL, PATH)
    async with open_stream(session, request, "POST", url, headers=headers, json=body) as response:
        parser = ChatChunkParser(request.provider)
        async for items in iter_batches(response, parser):  # a list per network chunk
            for item in items:
                yield item
    if parser.finish is None and parser.has_text:  # without text, the core reports no answer
        yield Finish("stop")


@functools.lru_cache(maxsize=64)
def _headers(base: str) -> Mapping[str, str]:
    """:func:`request_headers`, built once per base URL (aiohttp copies, never mutates)."""
    return request_headers(base)


def request_headers(base: str) -> Dict[str, str]:
    """The browser-like headers of the converse-edge request for the site at ``base``."""
    return site_headers(base, "/", accept="text/event-stream")


def request_body(request: CompletionRequest) -> Dict[str, Any]:
    """The JSON body: the history as a JSON string, the temperature and allowed options."""
    system = text_option(request.options, "system", provider=request.provider)
    history = build_history(request.messages, system)
    body: Dict[str, Any] = {
        "conversation": json.dumps({"history": history}, ensure_ascii=False),
        "temperature": DEFAULT_TEMPERATURE,
    }
    body.update(checked_options(request.options, OPTIONS, provider=request.provider))
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


class EventStream(ChatChunkParser):
    """The text-only view of :class:`~chatplug.openai_chunks.ChatChunkParser` (the 0.1 API):
    :meth:`feed` and :meth:`close` return the text pieces alone."""

    __slots__ = ()

    def __init__(self, provider: Optional[str] = PROVIDER) -> None:
        super().__init__(provider)

    def feed(self, chunk: bytes) -> List[str]:  # type: ignore[override]
        return [item for item in super().feed(chunk) if type(item) is str]

    def close(self) -> List[str]:  # type: ignore[override]
        return [item for item in super().close() if type(item) is str]


def delta_text(data: str) -> str:
    """The text of one ``data:`` payload (``""`` if none); errors as :class:`EventStream`'s."""
    return "".join(item for item in ChatChunkParser().feed_data(data) if type(item) is str)
