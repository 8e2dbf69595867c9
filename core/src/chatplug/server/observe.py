"""What was served, per generation request: metrics, tokens for the limits, the log row.

:func:`observe` runs a ``POST /v1/...`` request: it admits it (the key and its limits, see
:mod:`.keys`), runs the handler, and once the answer is over records

- the metrics: provider, model, key name, error code, tokens in and out, time to the first
  chunk and the whole duration, the answers being sent now and the providers' breaker state;
- the request's tokens against its key's ``tpm`` (the usage the plugin reported, else
  estimated at about four characters per token);
- with ``--log-db``, one row of the conversation log (:mod:`chatplug.history`), with the
  key's name.

Counting the tokens and writing the row happen after the response, in the background: they
never delay it.  An endpoint tells what it serves with :func:`track` once it has opened its
stream (``track(request, stream, messages, options)``); nothing else is asked of it.
"""

from __future__ import annotations

import asyncio
import time
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Optional,
    Tuple,
)

from aiohttp import web

from ..errors import ChatplugError
from ..health import ProviderHealth
from ..stream import Stream
from ..types import Message
from .access import RECORD_KEY, AccessRecord
from .operations import OPERATIONS, Operations
from .protocol import ApiError, api_error
from .state import STATE
from .usage import completion_characters, estimate_tokens, prompt_characters

if TYPE_CHECKING:  # pragma: no cover
    from ..history import ExchangeRecord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: admits a request (its key's name on ``served.key``) or raises the refusal
Admit = Callable[[web.Request, Operations, "Served"], Awaitable[None]]
#: the error code of a request whose client went away before the answer ended
CLIENT_CLOSED = "client_closed"


class ClientClosedError(Exception):
    """The client went away before the answer ended (the log row's error type)."""


class Served:
    """One generation request: its key's name and, once the endpoint opened it, its stream."""

    __slots__ = ("error", "exchange", "key", "messages", "stream")

    def __init__(self) -> None:
        self.key: Optional[str] = None
        self.stream: Optional[Stream] = None
        self.messages: Tuple[Message, ...] = ()
        self.exchange: Optional[ExchangeRecord] = None
        #: what the stream raised (seen when the log records the answer)
        self.error: Optional[BaseException] = None


#: where the request's :class:`Served` lives (a RequestKey on aiohttp >= 3.13)
SERVED_KEY: Any = (
    web.RequestKey("chatplug.served", Served) if hasattr(web, "RequestKey") else "chatplug.served"
)


def track(
    request: web.Request,
    stream: Stream,
    messages: Tuple[Message, ...],
    options: Optional[Mapping[str, Any]] = None,
) -> None:
    """Tell the accounting what the request serves: its ``stream`` (before iterating it),
    the request's ``messages`` and ``options`` (for the log).  Costs nothing per chunk
    unless the log is on (then each text piece is also kept for the row)."""
    served: Optional[Served] = request.get(SERVED_KEY)
    if served is None:
        return
    served.stream, served.messages = stream, messages
    recorder = request.app[OPERATIONS].recorder
    if recorder is not None:
        served.exchange = recorder.begin(messages, options=dict(options or {}), key_name=served.key)
        _tap(stream, served)


async def observe(
    request: web.Request, handler: Handler, operations: Operations, admit: Admit
) -> web.StreamResponse:
    """Admit the request, run ``handler``, then account for what it served."""
    record: AccessRecord = request[RECORD_KEY]
    served = Served()
    request[SERVED_KEY] = served
    code: Optional[str] = None
    try:
        await admit(request, operations, served)
        with operations.metrics.active_stream():
            response = await handler(request)
        code = record.error
        return response
    except ApiError as error:
        code = error.code
        raise
    except ChatplugError as error:
        code = api_error(error).code
        raise
    except web.HTTPException as error:
        code = f"http_{error.status}"
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        code = CLIENT_CLOSED
        raise
    except Exception:
        code = "internal_error"
        raise
    finally:
        _account(request, operations, record, served, code)


def _account(
    request: web.Request,
    operations: Operations,
    record: AccessRecord,
    served: Served,
    code: Optional[str],
) -> None:
    stream = served.stream
    provider, model = record.provider, record.model
    if stream is not None:
        provider, model = provider or stream.provider, model or stream.model
    prompt, completion, estimated = tokens(served)
    operations.metrics.observe(
        provider=provider,
        model=model,
        key_name=served.key,
        duration=time.monotonic() - record.start,
        first_chunk=None if record.first_chunk is None else record.first_chunk - record.start,
        prompt_tokens=prompt,
        completion_tokens=completion,
        error=code,
    )
    if stream is not None:
        _breaker_state(request, operations, stream)
    key = operations.limits.get(served.key or "")
    if key is not None and key.tpm and prompt + completion:
        operations.later(operations.limiter.add_tokens(key.name, prompt + completion))
    exchange = served.exchange
    if exchange is not None and operations.recorder is not None:
        _end_exchange(exchange, served, code, (prompt, completion) if estimated else None)
        operations.later(operations.recorder.write_async(exchange))


def tokens(served: Served) -> Tuple[int, int, bool]:
    """Prompt and completion tokens of the answer, and whether they are estimated (the
    plugin reported no usage); nothing when no answer came back."""
    stream = served.stream
    if stream is None:
        return 0, 0, False
    usage = stream.usage
    if usage is not None:
        return usage.input_tokens, usage.output_tokens, False
    characters = completion_characters(stream.text_length, stream.reasoning, stream.tool_calls)
    if not characters:
        return 0, 0, False
    return estimate_tokens(prompt_characters(served.messages)), estimate_tokens(characters), True


def _breaker_state(request: web.Request, operations: Operations, stream: Stream) -> None:
    """The breaker gauges of the providers this answer tried, as this process saw them."""
    client = request.app[STATE].client
    if client is None:
        return
    breaker = client.breaker
    now = time.time()
    for name in {provider for provider, _model in stream.attempts}:
        left = breaker.resting_for(name)
        health = ProviderHealth(breaker.failures(name), now + left if left else 0.0)
        operations.metrics.breaker(name, health)


def _end_exchange(
    exchange: ExchangeRecord,
    served: Served,
    code: Optional[str],
    estimate: Optional[Tuple[int, int]],
) -> None:
    stream = served.stream
    if served.error is not None:
        exchange.fail(served.error, facts=stream)
    elif code == CLIENT_CLOSED:
        exchange.fail(ClientClosedError("the client went away before the end"), facts=stream)
    elif code is not None and stream is not None and stream.finish_reason is None:
        exchange.fail(ChatplugError(code), facts=stream)
    else:
        exchange.finish(stream)
    if estimate is not None and exchange.input_tokens is None:
        exchange.set_usage({"input_tokens": estimate[0], "output_tokens": estimate[1]})
        exchange.usage_estimated = True


def _tap(stream: Stream, served: Served) -> None:
    """Keep the text pieces of ``stream`` for the log row as the endpoint iterates it."""
    source = stream._source
    if source is None:  # already iterated: nothing to add
        return
    exchange = served.exchange
    assert exchange is not None

    def tapped(progress: Any, events: bool) -> AsyncIterator[Any]:
        return _feed(source(progress, events), exchange, served)

    stream._source = tapped


async def _feed(
    items: AsyncIterator[Any], exchange: ExchangeRecord, served: Served
) -> AsyncIterator[Any]:
    add = exchange.add_text
    try:
        async for item in items:
            if type(item) is str:
                add(item)
            yield item
    except Exception as error:  # the stream's failure, for the row (and re-raised)
        served.error = error
        raise
    finally:
        await items.aclose()  # type: ignore[attr-defined]
