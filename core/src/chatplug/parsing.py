"""Incremental stream parsers: a body's network chunks in, contract-0.2 stream items out.

A plugin's parser has ``feed(chunk)`` (the items the chunk completed), ``close()`` (the last
items at the end of the body; it raises :class:`~chatplug.StreamProtocolError` when the body
ended too soon) and, when its protocol has an end marker, ``done``.  :func:`iter_items`
drives one over a response; :func:`post_json` sends a JSON payload and drives one over the
answer (the whole ``stream_completion`` of most HTTP API plugins)::

    async with open_stream(session, request, "POST", url, json=payload) as response:
        async for item in iter_items(response, MyParser(request.provider)):
            yield item

    # or, with the request's proxy and timeouts, errors mapped by open_stream:
    async for item in post_json(session, request, url, payload, MyParser(request.provider)):
        yield item

:class:`EventParser` is a base for parsers of framed events (Server-Sent Events' ``data``,
NDJSON lines): a subclass says how a chunk splits into frames (:meth:`~EventParser.frames`,
e.g. with :class:`~chatplug.SSEDecoder`) and what one frame gives
(:meth:`~EventParser.event`).  The base keeps the order rule every plugin needs: an upstream
error met in the middle of a chunk is raised after the items that came before it (at the
next ``feed`` or ``close``), and nothing is read after ``done``.
"""

from __future__ import annotations

import json
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    List,
    Mapping,
    Optional,
    Protocol,
)

from .errors import UpstreamError
from .events import StreamItem
from .http import open_stream
from .types import CompletionRequest

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__all__ = ["EventParser", "IncrementalParser", "iter_batches", "iter_items", "post_json"]


class IncrementalParser(Protocol):
    """What :func:`iter_items` drives (``done`` is optional: without it, the whole body)."""

    def feed(self, chunk: bytes) -> Iterable[StreamItem]: ...

    def close(self) -> Optional[Iterable[StreamItem]]: ...


async def iter_items(
    response: "aiohttp.ClientResponse", parser: IncrementalParser
) -> AsyncIterator[StreamItem]:
    """The items ``parser`` makes of ``response``'s body as it arrives.

    Reading stops once ``parser.done`` is true (:func:`chatplug.open_stream` reads the rest
    of the body when its block exits); ``parser.close()`` ends the stream either way.
    """
    async for items in iter_batches(response, parser):
        for item in items:
            yield item


async def iter_batches(
    response: "aiohttp.ClientResponse", parser: IncrementalParser
) -> AsyncIterator[Iterable[StreamItem]]:
    """:func:`iter_items`, the items of each network chunk together: one step of this
    generator per chunk of the body (often hundreds of items), not per item.  A plugin
    that yields them itself (``for item in items: yield item``) streams as fast as with
    its own loop over the body; through ``iter_items`` each item costs one more async
    generator step (about 3% of a small text chunk's whole cost)."""
    async for chunk in response.content.iter_any():
        items = parser.feed(chunk)
        if items:
            yield items
        if getattr(parser, "done", False):
            break
    rest = parser.close()
    if rest:
        yield rest


async def post_json(
    session: "aiohttp.ClientSession",
    request: CompletionRequest,
    url: str,
    payload: Any,
    parser: IncrementalParser,
    *,
    headers: Optional[Mapping[str, str]] = None,
    params: Optional[Mapping[str, str]] = None,
    on_error: Optional[Callable[["aiohttp.ClientResponse"], Awaitable[BaseException]]] = None,
) -> AsyncIterator[StreamItem]:
    """``POST`` ``payload`` as JSON (UTF-8, not ASCII-escaped) to ``url`` with
    :func:`~chatplug.open_stream` (``headers``, ``params`` and ``on_error`` are its own) and
    yield what ``parser`` makes of the answer (:func:`iter_items`)."""
    data = json.dumps(payload, ensure_ascii=False).encode()
    async with open_stream(
        session, request, "POST", url, headers=headers, data=data, params=params, on_error=on_error
    ) as response:
        async for item in iter_items(response, parser):
            yield item


class EventParser:
    """Base of a parser of framed events: see the module docstring.

    ``provider`` names the provider in errors; ``done`` turns true when a subclass sees the
    protocol's end (it then gets no more frames).
    """

    __slots__ = ("_error", "done", "provider")

    def __init__(self, provider: Optional[str]) -> None:
        self.provider = provider
        self.done = False
        self._error: Optional[UpstreamError] = None

    def frames(self, chunk: bytes) -> Iterable[Any]:
        """The frames ``chunk`` completed (e.g. ``self._sse.feed(chunk)``)."""
        raise NotImplementedError

    def event(self, frame: Any, items: List[StreamItem]) -> None:
        """Append what ``frame`` gives to ``items``; raise for an error or a bad frame."""
        raise NotImplementedError

    def feed(self, chunk: bytes) -> List[StreamItem]:
        """The items completed by ``chunk`` (raw bytes of the body)."""
        self.raise_pending()
        items: List[StreamItem] = []
        if self.done:
            return items
        for frame in self.frames(chunk):
            try:
                self.event(frame, items)
            except UpstreamError as error:
                if not items:
                    raise
                self._error = error  # what came before the error goes out first
                break
            if self.done:
                break
        return items

    def raise_pending(self) -> None:
        """Raise the error held back by :meth:`feed` (call it first in ``close``)."""
        if self._error is not None:
            raise self._error
