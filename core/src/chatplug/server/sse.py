"""The streamed answer as Server-Sent Events (``chat.completion.chunk``, then ``[DONE]``).

Once the headers are out the status cannot change, so from then on every failure ends the
body cleanly instead: one last ``data: {"error": ...}`` event and the chunked terminator.
A client that went away gets nothing more (its request is logged with status 499).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Mapping

from aiohttp import web

from ..errors import ChatplugError
from ..stream import Stream
from .access import AccessRecord
from .protocol import ApiError, ChatRequest, ChunkEncoder, api_error, usage
from .state import STATE

log = logging.getLogger("chatplug.server")

#: the last event of a stream cut by the shutdown after the grace period
SHUTDOWN_EVENT = ApiError(
    503,
    "the server is shutting down; the answer is incomplete",
    type="server_error",
    code="server_shutting_down",
)
INTERNAL_EVENT = ApiError(500, "internal server error", type="server_error", code="internal_error")


async def stream_events(
    request: web.Request,
    record: AccessRecord,
    chat: ChatRequest,
    stream: Stream,
    model: str,
    first: str,
) -> web.StreamResponse:
    """Send the answer as SSE ``chat.completion.chunk`` events, then ``[DONE]``.

    The headers go out with the first chunk, so that any error before it gets its
    HTTP status; an error after it is sent as a final ``data: {"error": ...}`` event.
    """
    encoder = ChunkEncoder(model)
    content = encoder.content
    head = encoder.first(first)  # before prepare(): a failure here still gets its status
    response = EventStreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    chars = len(first)
    chunks = 1
    try:
        await response.write(head)
        async for piece in stream:
            await response.write(content(piece))
            chunks += 1
            chars += len(piece)
    except ChatplugError as error:
        problem = api_error(error)
        record.error = problem.code
        end = ChunkEncoder.error(problem)
    except ConnectionError:  # the client went away: nothing more can be sent
        record.client_closed = True
        return response
    except asyncio.CancelledError:
        if not request.app[STATE].claim_cut():
            raise  # the client went away
        record.error = SHUTDOWN_EVENT.code
        end = ChunkEncoder.error(SHUTDOWN_EVENT)
    except Exception:  # a bug: still end the body the client is reading cleanly
        log.exception("unexpected error streaming %s %s", request.method, request.path)
        record.error = INTERNAL_EVENT.code
        end = ChunkEncoder.error(INTERNAL_EVENT)
    else:
        end = encoder.last(usage(chat.messages, chars) if chat.include_usage else None)
    finally:
        record.chunks, record.chars = chunks, chars
    try:
        await response.write_eof(end)  # the last event and the end of the body in one send
    except ConnectionError:
        record.client_closed = True
    return response


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
