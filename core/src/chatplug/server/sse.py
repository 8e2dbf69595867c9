"""Server-Sent Events framing: the streamed response and its headers (the chunks
themselves are rendered by :mod:`.chat_response`, sent by :mod:`.chat_completions`), and
how a stream ends when it fails after its headers went out.

Once the headers are out the status cannot change, so from then on every failure ends the
body cleanly instead: one last error event and the chunked terminator
(:func:`stream_failure`, :func:`end_stream`).  A client that went away gets nothing more
(its request is logged with status 499).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Mapping, Optional

from aiohttp import web

from ..errors import ChatplugError
from .access import AccessRecord
from .api_errors import ApiError, api_error
from .state import STATE

log = logging.getLogger("chatplug.server")

#: the last event of a stream cut by the shutdown after the grace period
SHUTDOWN_EVENT = ApiError(
    503,
    "the server is shutting down; the answer is incomplete",
    type="server_error",
    code="server_shutting_down",
)
#: the last event of a stream that met a bug in the server
INTERNAL_EVENT = ApiError(500, "internal server error", type="server_error", code="internal_error")


class EventStreamResponse(web.StreamResponse):
    """A streamed response whose headers go out with its first chunk (one send, not two).

    ``_send_headers_immediately`` is aiohttp's own switch (3.11+; ``web.Response`` turns it
    off the same way); older versions ignore it and send the headers first.
    """

    _send_headers_immediately = False


SSE_HEADERS: Mapping[str, str] = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def stream_failure(
    request: web.Request, record: AccessRecord, error: BaseException
) -> Optional[ApiError]:
    """The error to send as the last event of a stream that failed after its headers
    (``except (Exception, asyncio.CancelledError) as error``), or ``None`` when the client
    went away.  A cancellation other than the shutdown's is raised again."""
    if isinstance(error, ChatplugError):
        problem = api_error(error)
    elif isinstance(error, ConnectionError):  # the client went away: nothing can be sent
        record.client_closed = True
        return None
    elif isinstance(error, asyncio.CancelledError):
        if not request.app[STATE].claim_cut():
            raise error  # the client went away
        problem = SHUTDOWN_EVENT
    else:  # a bug: still end the body the client is reading cleanly
        log.error("unexpected error streaming %s %s", request.method, request.path, exc_info=error)
        problem = INTERNAL_EVENT
    record.error = problem.code
    return problem


async def end_stream(record: AccessRecord, ending: Awaitable[None]) -> None:
    """Await ``ending`` (the last events and the end of the body); a client that went away
    meanwhile is recorded, not raised."""
    try:
        await ending
    except ConnectionError:
        record.client_closed = True
