"""The scaffold of a scriptable emulator: a request log, a fault script, awkward streaming.

Besides its protocol, every emulator needs the same few things: a log of the requests it
received (tests assert on what the plugin sent), a way for tests to script a failure (an
HTTP error, a stream cut short or dropped, slow writes), and a body written in awkward
pieces while noting whether the client stayed to the end.  A plugin's emulator::

    from chatplug.emulation import record_reply
    from chatplug.emulator_kit import (
        FAULTS, Faults, emulator_app, read_logged_json, scripted_error, stream_body,
    )

    def create_app(**faults: Any) -> web.Application:
        app = emulator_app(Faults(**faults))  # create_app() is the healthy upstream
        app.router.add_post("/v1/chat", chat)
        return app

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await read_logged_json(request)
        ...  # answer 400 where the upstream would
        failure = scripted_error(request)
        if failure is not None:
            return failure
        text = reply_text(body)
        data = render(text)
        if request.app[FAULTS].truncate:
            data = data[: len(data) // 2]  # where the protocol can tell it is cut
        record_reply(request, text)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        await stream_body(request, response, data)
        return response

Tests read ``app[REQUESTS]``, ``app[STREAM_ENDS]`` and ``app[DISCONNECTS]``.  An emulator of
an API with keys checks them with :class:`ApiKeys` (``ApiKeys(keys, require_key).check(key)``:
``None``, :data:`MISSING` or :data:`INVALID`; it answers in its upstream's words).  Emulators
ship inside plugin packages and run outside pytest (``chatplug chat --emulate``), so this
module needs only aiohttp.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

from aiohttp import web
from multidict import CIMultiDict

from .emulation import AWKWARD_SIZES, write_awkwardly

__all__ = [
    "DISCONNECTS",
    "FAULTS",
    "INVALID",
    "MISSING",
    "REQUESTS",
    "STREAM_ENDS",
    "ApiKeys",
    "Faults",
    "emulator_app",
    "log_request",
    "read_logged_json",
    "scripted_error",
    "stream_body",
    "write_sizes",
]


@dataclass(frozen=True)
class Faults:
    """What a test scripts an emulator to do instead of answering like the healthy upstream.

    ``status``: answer valid requests with this HTTP status and ``error_body`` (plus a
    ``Retry-After: retry_after`` header when given).  ``truncate``: end the body cleanly
    before its end (where is the emulator's choice: where the protocol can tell).
    ``drop``: reset the connection after the body (the emulator cuts the body, e.g. in the
    middle of an event).  ``delay``: seconds to sleep between writes.
    """

    status: Optional[int] = None
    error_body: Optional[str] = None
    retry_after: Optional[str] = None
    truncate: bool = False
    drop: bool = False
    delay: float = 0.0


#: :meth:`ApiKeys.check`'s verdicts: no key where one is required, a key that is refused
MISSING, INVALID = "missing", "invalid"


class ApiKeys:
    """The API keys an emulator accepts.

    With ``keys``, only those; else with ``require_key``, any non-empty key; by default any
    non-empty key or none at all (so that ``chatplug chat --emulate`` needs no key).
    """

    __slots__ = ("keys", "required")

    def __init__(self, keys: Optional[Iterable[str]] = None, require_key: bool = False) -> None:
        self.keys = frozenset(keys) if keys is not None else None
        self.required = require_key or keys is not None

    def check(self, key: Optional[str]) -> Optional[str]:
        """``None`` when ``key`` (``None``: none sent) passes, else :data:`MISSING` or
        :data:`INVALID` (an empty or unknown key)."""
        if key is None:
            return MISSING if self.required else None
        if not key or (self.keys is not None and key not in self.keys):
            return INVALID
        return None


#: every request received: {"method", "path", "query", "headers", "body", "peer"}
REQUESTS = web.AppKey("chatplug.requests", List[Dict[str, Any]])
#: how each stream ended: "complete", "disconnected" (the client left first) or "dropped"
STREAM_ENDS = web.AppKey("chatplug.stream_ends", List[str])
#: the path of each stream the client closed before its end
DISCONNECTS = web.AppKey("chatplug.disconnects", List[str])
#: the app's fault script
FAULTS = web.AppKey("chatplug.faults", Faults)


def emulator_app(faults: Optional[Faults] = None) -> web.Application:
    """An app with empty logs and the fault script ``faults`` (default: none); add routes."""
    app = web.Application()
    app[REQUESTS] = []
    app[STREAM_ENDS] = []
    app[DISCONNECTS] = []
    app[FAULTS] = faults if faults is not None else Faults()
    return app


def log_request(request: web.Request, body: Any) -> None:
    """Note ``request`` in ``app[REQUESTS]``, with ``body`` as the emulator read it."""
    request.app[REQUESTS].append(
        {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "headers": CIMultiDict(request.headers),  # names case-insensitive
            "body": body,
            "peer": request.transport.get_extra_info("peername") if request.transport else None,
        }
    )


async def read_logged_json(request: web.Request) -> Any:
    """The request's JSON body (``None`` when it is not JSON), noted with :func:`log_request`."""
    try:
        body = json.loads(await request.read())
    except ValueError:
        body = None
    log_request(request, body)
    return body


def scripted_error(
    request: web.Request, default_body: str = "scripted failure"
) -> Optional[web.Response]:
    """The scripted HTTP error (:attr:`Faults.status`), or ``None`` when none is scripted."""
    faults = request.app[FAULTS]
    if faults.status is None:
        return None
    text = faults.error_body or default_body
    headers = {"Retry-After": faults.retry_after} if faults.retry_after else None
    return web.Response(status=faults.status, text=text, headers=headers)


def write_sizes(data: bytes, head: int = 0, tail: int = 0) -> List[int]:
    """Sizes of awkward writes of ``data``: the first ``head`` and last ``tail`` bytes in one
    write each (several events coalesced), the middle in small uneven pieces
    (:data:`~chatplug.emulation.AWKWARD_SIZES`) that also cut every multi-byte UTF-8
    character in two."""
    end = len(data) - tail
    cuts = {head, end, len(data)}
    cuts.update(
        itertools.takewhile(
            lambda cut: cut < end,
            itertools.accumulate(itertools.cycle(AWKWARD_SIZES), initial=head),
        )
    )
    cuts.update(i + 1 for i in range(head, end) if data[i] >= 0xC0)  # after a lead byte
    points = sorted(cut for cut in cuts if 0 < cut <= len(data))
    return [b - a for a, b in zip([0, *points], points)]


async def stream_body(
    request: web.Request,
    response: web.StreamResponse,
    data: bytes,
    *,
    sizes: Optional[Iterable[int]] = None,
) -> None:
    """Write ``data`` to the prepared ``response`` in awkward pieces and end it.

    ``sizes``: the sizes of the writes, cycled (default: :func:`write_sizes` of ``data``);
    :attr:`Faults.delay` seconds between writes.  With :attr:`Faults.drop` the connection
    is reset after the data instead.  The end is noted in ``app[STREAM_ENDS]`` (and the
    path in ``app[DISCONNECTS]`` when the client went away first).
    """
    faults = request.app[FAULTS]
    ends = request.app[STREAM_ENDS]
    try:
        await write_awkwardly(
            response, data, sizes=write_sizes(data) if sizes is None else sizes, delay=faults.delay
        )
        if faults.drop and request.transport is not None:
            request.transport.abort()
            ends.append("dropped")
            return
        await response.write_eof()
    except (ConnectionError, asyncio.CancelledError) as error:  # the client went away
        ends.append("disconnected")
        request.app[DISCONNECTS].append(request.path)
        if isinstance(error, asyncio.CancelledError):
            raise
        return
    ends.append("complete")
