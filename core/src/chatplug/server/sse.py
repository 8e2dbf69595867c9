"""Server-Sent Events framing: the streamed response and its headers (the chunks
themselves are rendered by :mod:`.chat_response`, sent by :mod:`.chat_completions`)."""

from __future__ import annotations

from typing import Mapping

from aiohttp import web


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
