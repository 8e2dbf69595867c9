"""``POST /v1/chat/completions``: a request in, the plugin's answer out, streamed or whole.

The request is read by :mod:`.chat_request`, the answer rendered by :mod:`.chat_response`.
Who answered is told by the ``x-chatplug-provider`` and ``x-chatplug-model`` headers.  A
streamed answer sends its headers with its first chunk, once the first text, reasoning,
tool call or finish arrived: until then a retry or a fallback may still pick another
provider, and any error still gets its own HTTP status.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Dict, List, Optional

from aiohttp import web

from ..errors import ChatplugError
from ..events import Finish, ReasoningDelta, ToolCallDelta
from ..stream import Stream
from .access import RECORD_KEY, AccessRecord
from .body_writer import BurstWriter
from .chat_request import ChatCall, parse_chat_request, parse_json_body, start_stream
from .chat_response import ChunkEncoder, completion_object, finish_reason
from .observe import track
from .sse import SSE_HEADERS, EventStreamResponse, end_stream, stream_failure
from .state import STATE
from .usage import USAGE_HEADER, answer_usage, completion_characters, openai_usage

PROVIDER_HEADER = "x-chatplug-provider"
MODEL_HEADER = "x-chatplug-model"
#: the items after which nothing is retried or falls back: the answer has begun
_COMMITTING = (ReasoningDelta, ToolCallDelta, Finish)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    record: AccessRecord = request[RECORD_KEY]
    # read already by the body middleware (which answers a body over the limit with a 413)
    call = parse_chat_request(parse_json_body(await request.read()))
    record.stream = call.stream
    state = request.app[STATE]
    assert state.client is not None
    stream = start_stream(state.client, call)
    track(request, stream, call.messages, call.fields)
    state.active_streams += 1
    try:
        async with stream:
            if call.stream:
                return await stream_answer(request, record, call, stream)
            return await whole_answer(record, call, stream)
    finally:
        state.active_streams -= 1


def who_answered(stream: Stream) -> Dict[str, str]:
    """The ``x-chatplug-provider`` and ``x-chatplug-model`` headers."""
    return {PROVIDER_HEADER: stream.provider or "", MODEL_HEADER: stream.model or ""}


async def first_item(items: AsyncIterator[Any], record: AccessRecord) -> Any:
    """The first text, reasoning, tool call or finish of the answer (usage and metadata
    before it are recorded on the stream; they do not start the answer)."""
    try:
        async for item in items:
            if type(item) is str or isinstance(item, _COMMITTING):
                record.first_chunk = time.monotonic()
                return item
    except ChatplugError as error:
        record.provider = error.provider
        raise
    raise AssertionError("a stream ends with text or a finish, or raises")  # pragma: no cover


async def whole_answer(record: AccessRecord, call: ChatCall, stream: Stream) -> web.Response:
    """The ``chat.completion`` object of the whole answer."""
    items = stream.events()
    item = await first_item(items, record)
    record.provider, record.model = stream.provider, stream.model
    pieces: List[str] = []
    if type(item) is str:
        pieces.append(item)
    async for item in items:
        if type(item) is str:
            pieces.append(item)
    text = "".join(pieces)
    record.chunks, record.chars = len(pieces), len(text)
    calls = stream.tool_calls
    reasoning = stream.reasoning
    usage = answer_usage(
        stream.usage, call.messages, completion_characters(len(text), reasoning, calls)
    )
    body = completion_object(
        f"{stream.provider}/{stream.model}",
        text,
        openai_usage(usage),
        finish=finish_reason(stream.finish.reason if stream.finish else None, bool(calls)),
        tool_calls=calls,
        reasoning=reasoning,
    )
    headers = who_answered(stream)
    headers[USAGE_HEADER] = usage.marker
    return web.json_response(body, headers=headers)


async def stream_answer(
    request: web.Request, record: AccessRecord, call: ChatCall, stream: Stream
) -> web.StreamResponse:
    """Send the answer as SSE ``chat.completion.chunk`` events, then ``[DONE]``.

    The headers go out with the first chunk, so that any error before it gets its HTTP
    status; an error after it is sent as a final ``data: {"error": ...}`` event.
    """
    items = stream.events()
    item = await first_item(items, record)
    record.provider, record.model = stream.provider, stream.model
    response = EventStreamResponse(headers={**SSE_HEADERS, **who_answered(stream)})
    await response.prepare(request)
    encoder = ChunkEncoder(f"{stream.provider}/{stream.model}", include_usage=call.include_usage)
    content = encoder.content
    chars = chunks = 0
    end: Optional[bytes] = None
    body = BurstWriter(request, response)
    add = body.add
    try:
        if type(item) is str:
            await response.write(encoder.first(item))  # with the headers
            chunks, chars = 1, len(item)
        else:
            await response.write(encoder.role() + _event_chunk(encoder, item))
        async for item in items:
            if type(item) is str:
                add(content(item))
                chunks += 1
                chars += len(item)
            elif isinstance(item, (ReasoningDelta, ToolCallDelta)):
                add(_event_chunk(encoder, item))
            if body.congested:
                await body.drain()
    except (Exception, asyncio.CancelledError) as error:
        problem = stream_failure(request, record, error)
        if problem is None:
            return response
        end = ChunkEncoder.error(problem)
    finally:
        record.chunks, record.chars = chunks, chars
    if end is None:
        end = _last_chunks(encoder, call, stream, chars)
    await end_stream(record, body.finish(end))  # what is queued, the last events, the end
    return response


def _event_chunk(encoder: ChunkEncoder, item: Any) -> bytes:
    if isinstance(item, ToolCallDelta):
        return encoder.tool_call(item)
    if isinstance(item, ReasoningDelta) and item.text:
        return encoder.reasoning(item.text)
    return b""


def _last_chunks(encoder: ChunkEncoder, call: ChatCall, stream: Stream, chars: int) -> bytes:
    calls = stream.tool_calls
    finish = finish_reason(stream.finish.reason if stream.finish else None, bool(calls))
    usage = None
    if call.include_usage:
        answer = answer_usage(
            stream.usage, call.messages, completion_characters(chars, stream.reasoning, calls)
        )
        usage = openai_usage(answer)
    return encoder.last(finish, usage)
