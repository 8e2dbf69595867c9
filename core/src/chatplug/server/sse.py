"""The streamed answer as Server-Sent Events (``chat.completion.chunk``, then ``[DONE]``)."""

from __future__ import annotations

from typing import Mapping

from aiohttp import web

from ..errors import ChatplugError
from ..stream import Stream
from .access import AccessRecord
from .protocol import ChatRequest, ChunkEncoder, api_error, usage


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
    response = EventStreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    encoder = ChunkEncoder(model)
    content = encoder.content
    chars = len(first)
    chunks = 1
    try:
        await response.write(encoder.first(first))
        async for piece in stream:
            await response.write(content(piece))
            chunks += 1
            chars += len(piece)
    except ChatplugError as error:
        problem = api_error(error)
        record.error = problem.code
        end = ChunkEncoder.error(problem)
    else:
        end = encoder.last(usage(chat.messages, chars) if chat.include_usage else None)
    finally:
        record.chunks, record.chars = chunks, chars
    await response.write_eof(end)  # the last event and the end of the body in one send
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
