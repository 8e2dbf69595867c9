"""What the Responses and Messages endpoints share: a request translated into one
:meth:`AsyncClient.stream <chatplug.AsyncClient.stream>` call, and the handler that streams
the answer's events through a dialect's encoder (or collects them into one object).

A dialect is a parser (request body -> :class:`Call`, pure) and an :class:`Encoder` (stream
events -> the wire format's bytes and final object, pure).  The handler only does I/O.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Dict,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Tuple,
)

from aiohttp import web

from ..errors import ChatplugError
from ..events import ReasoningDelta, ToolCallDelta, Usage
from ..stream import Stream
from ..types import REASONING, Message
from .access import RECORD_KEY, AccessRecord
from .api_errors import ApiError
from .body_writer import BurstWriter
from .chat_completions import first_item, who_answered
from .chat_request import parse_json_body
from .observe import track
from .sse import SSE_HEADERS, EventStreamResponse, end_stream, stream_failure
from .state import STATE
from .usage import ESTIMATED, REPORTED, USAGE_HEADER, estimate_tokens, prompt_characters


class Call(NamedTuple):
    """A translated request: the conversation, the keyword arguments of ``client.stream``,
    whether to stream, and what the answer echoes back (dialect-specific)."""

    model: str
    messages: Tuple[Message, ...]
    fields: Dict[str, Any]
    stream: bool
    echo: Mapping[str, Any]


class Counts(NamedTuple):
    """The answer's token counts: the upstream's, or an estimate (``estimated``)."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: Optional[int]
    reasoning_tokens: Optional[int]
    estimated: bool


class Encoder:
    """One answer in a wire format: each method returns the bytes to send (empty when
    nothing is due); :meth:`result` is the whole answer of a non-streaming request."""

    def start(self) -> bytes:
        raise NotImplementedError

    def text(self, text: str) -> bytes:
        raise NotImplementedError

    def reasoning(self, delta: ReasoningDelta) -> bytes:
        raise NotImplementedError

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        raise NotImplementedError

    def finish(self, stream: Stream) -> bytes:
        """The closing events once the stream ended cleanly."""
        raise NotImplementedError

    def failure(self, error: ApiError) -> bytes:
        """The closing event of a stream that failed after it started."""
        raise NotImplementedError

    def result(self, stream: Stream) -> Dict[str, Any]:
        """The whole answer (``stream: false``), after :meth:`finish`."""
        raise NotImplementedError


class Item:
    """An output item (or content block) being built: its wire object, its place among the
    answer's items, and the text (or JSON argument) pieces streamed into it."""

    __slots__ = ("body", "index", "pieces")

    def __init__(self, index: int, body: Dict[str, Any]) -> None:
        self.index = index
        self.body = body
        self.pieces: List[str] = []


class Dialect(NamedTuple):
    parse: Callable[[Mapping[str, Any]], Call]
    encoder: Callable[[Call, str, Counts], Encoder]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def sse(kind: str, payload: Mapping[str, Any]) -> bytes:
    """One Server-Sent Event: ``event: kind`` and its JSON ``data``."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


#: the key of the reasoning blocks in a Responses ``encrypted_content`` of chatplug's own
REASONING_KEY = "chatplug_reasoning"


def encode_reasoning(blocks: List[Dict[str, Any]]) -> str:
    """Reasoning blocks (text, redacted, provider metadata) as an opaque string."""
    return json.dumps({REASONING_KEY: blocks}, ensure_ascii=False, separators=(",", ":"))


def decode_reasoning(opaque: Any) -> Optional[List[Dict[str, Any]]]:
    """The reasoning blocks of :func:`encode_reasoning`, or ``None`` for anything else."""
    if not isinstance(opaque, str) or REASONING_KEY not in opaque:
        return None
    try:
        blocks = json.loads(opaque)[REASONING_KEY]
    except (ValueError, TypeError, KeyError):
        return None
    return blocks if isinstance(blocks, list) else None


def prompt_estimate(messages: Tuple[Message, ...]) -> Counts:
    """The input's estimated token count, before the upstream reported any."""
    return Counts(estimate_tokens(prompt_characters(messages)), 0, None, None, True)


def answer_counts(usage: Optional[Usage], prompt: Counts, output_chars: int) -> Counts:
    """The upstream's usage, or the estimate: ``prompt`` and ``output_chars`` characters."""
    if usage is None:
        return prompt._replace(output_tokens=estimate_tokens(output_chars))
    return Counts(
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_input_tokens,
        usage.reasoning_tokens,
        False,
    )


async def answer(request: web.Request, dialect: Dialect) -> web.StreamResponse:
    """Parse, call the client, and send the answer as the dialect's events or object."""
    record: AccessRecord = request[RECORD_KEY]
    call = dialect.parse(parse_json_body(await request.read()))
    record.stream = call.stream
    state = request.app[STATE]
    client = state.client
    assert client is not None
    fields = call.fields
    if fields.get("reasoning_effort") == "none" and not _may_reason(client, call.model):
        # asking a model that never reasons not to reason: nothing to ask
        fields = {key: value for key, value in fields.items() if key != "reasoning_effort"}
    stream = client.stream(call.messages, model=call.model, **fields)
    track(request, stream, call.messages, fields)
    state.active_streams += 1
    try:
        async with stream:
            events = stream.events()
            first = await first_item(events, record)
            record.provider, record.model = stream.provider, stream.model
            encoder = dialect.encoder(
                call, f"{stream.provider}/{stream.model}", prompt_estimate(call.messages)
            )
            headers = who_answered(stream)
            if call.stream:
                return await _send_events(request, record, encoder, stream, events, first, headers)
            await _collect(record, encoder, events, first)
            body = encoder.result(stream)
            headers[USAGE_HEADER] = REPORTED if stream.usage is not None else ESTIMATED
            return web.json_response(body, headers=headers)
    finally:
        state.active_streams -= 1


def _may_reason(client: Any, model: str) -> bool:
    try:
        return any(REASONING in found.model.capabilities for found in client.resolve(model))
    except ChatplugError:
        return True  # let the stream raise the real error


def _feed(encoder: Encoder, item: Any) -> bytes:
    kind = type(item)
    if kind is str:
        return encoder.text(item)
    if kind is ToolCallDelta:
        return encoder.tool_call(item)
    if kind is ReasoningDelta:
        return encoder.reasoning(item)
    return b""  # usage, finish and metadata are read from the stream at the end


async def _collect(
    record: AccessRecord, encoder: Encoder, events: AsyncIterator[Any], first: Any
) -> None:
    _feed(encoder, first)
    chunks = chars = 0
    async for item in events:
        _feed(encoder, item)
        if type(item) is str:
            chunks += 1
            chars += len(item)
    record.chunks, record.chars = chunks + 1, chars + (len(first) if type(first) is str else 0)


async def _send_events(
    request: web.Request,
    record: AccessRecord,
    encoder: Encoder,
    stream: Stream,
    events: AsyncIterator[Any],
    first: Any,
    headers: Dict[str, str],
) -> web.StreamResponse:
    """Send the answer as Server-Sent Events; the headers go out with the first events.

    An error after that is sent as the dialect's closing failure event.  The events go out
    through a :class:`~.body_writer.BurstWriter`, as the chat completion chunks do.
    """
    response = EventStreamResponse(headers={**SSE_HEADERS, **headers})
    await response.prepare(request)
    text = encoder.text
    chunks = 1
    chars = len(first) if type(first) is str else 0
    body = BurstWriter(request, response)
    add = body.add
    try:
        await response.write(encoder.start() + _feed(encoder, first))  # with the headers
        async for item in events:
            if type(item) is str:  # the hot path
                add(text(item))
                chunks += 1
                chars += len(item)
            else:
                data = _feed(encoder, item)
                if data:
                    add(data)
            if body.congested:
                await body.drain()
    except (Exception, asyncio.CancelledError) as error:
        problem = stream_failure(request, record, error)
        if problem is None:
            return response
        end = encoder.failure(problem)
    else:
        end = encoder.finish(stream)
    finally:
        record.chunks, record.chars = chunks, chars
    await end_stream(record, body.finish(end))  # what is queued, the last events, the end
    return response
