"""The attempt loop behind every stream: retries, fallback, the first-byte timer, errors.

:func:`attempts` is the async generator a :class:`~chatplug.Stream` iterates.  It tries
each candidate provider in turn (skipping resting ones), retries retryable failures
before the first text piece within the :class:`~chatplug.RetryPolicy`, and maps every
failure onto a :class:`~chatplug.ChatplugError`.  Once text reached the caller nothing is
retried or falls back.  Whatever plugin code raises, ``BaseException`` included, becomes a
:class:`~chatplug.PluginError` for this stream only, except the caller's own cancellation
or Ctrl-C (:func:`chatplug._guard.belongs_to_caller`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
    Union,
)

from ._contract import accept, accept_after_finish
from ._guard import belongs_to_caller
from ._request import new_request
from .config import Route
from .errors import (
    AllProvidersFailedError,
    ChatplugError,
    PluginError,
    RateLimitedError,
    StreamProtocolError,
    UpstreamTimeoutError,
)
from .health import CircuitBreaker
from .http import map_transport_error
from .masking import mask_text
from .registry import Provider
from .stream import _Progress
from .types import CompletionRequest, Message, ModelInfo, RetryPolicy

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

RetryInput = Union[RetryPolicy, int, None]
Routes = Mapping[str, Tuple[Route, Mapping[str, Any]]]
SessionFor = Callable[[Route], "aiohttp.ClientSession"]

log = logging.getLogger("chatplug")


async def attempts(
    candidates: List[Tuple[Provider, ModelInfo]],
    messages: Tuple[Message, ...],
    options: Dict[str, Any],
    fields: Mapping[str, Any],
    routes: Routes,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
    session_for: SessionFor,
    stream: _Progress,
    with_events: bool,
) -> AsyncIterator[Any]:
    """Yield the answer from the first candidate that answers: its text pieces, and with
    ``with_events`` its events too (otherwise they are only recorded on ``stream``)."""
    errors: Dict[str, ChatplugError] = {}
    loop = asyncio.get_running_loop()
    shared = breaker.shared  # an async (e.g. Redis) store: one read for every candidate
    rests = await _rests(breaker, candidates) if shared else None
    available = breaker.available if rests is None else (lambda name: rests[name] <= 0)
    # Resting providers are skipped while another candidate is available; when every
    # candidate rests, they are all tried (failing without trying would answer nothing).
    skip_resting = len(candidates) > 1 and any(available(item.name) for item, _ in candidates)
    for provider, model in candidates:
        name = provider.name
        if skip_resting and not available(name):
            errors[name] = _resting(name, rests[name] if rests else breaker.resting_for(name))
            continue
        route, settings = routes[name]
        try:
            request = new_request(
                name,
                model.id,
                messages,
                provider.format_prompt(messages, model.id),
                {**route.options, **options} if route.options else options,
                None if route.socks else route.proxy,  # SOCKS: the session's connector
                route.base_url,
                route.timeout,
                settings,
                fields,
            )
            session = session_for(route)
        except BaseException as error:  # format_prompt is plugin code
            if _callers(error):
                raise
            errors[name] = _as_chatplug_error(error, name, None)
            if errors[name] is not error:
                errors[name].__cause__ = error
            continue
        started = loop.time()
        attempt = 0
        while True:
            attempt += 1
            if stream.attempts:  # a retry or the next candidate: forget the last one's events
                stream.reset()
            stream.attempts.append((name, model.id))
            yielded = 0
            agen: Optional[AsyncIterator[Any]] = None
            try:
                agen = provider.stream(request, session)
                piece = await _first_piece(agen, request.timeout.first_byte, loop)
                stream.provider, stream.model = name, model.id
                if type(piece) is not str:
                    text = accept(stream, piece, name)
                    if text is None:
                        if with_events:
                            yield piece
                        piece = ""
                    else:
                        piece = text
                if piece:
                    yielded = len(piece)
                    stream.text_length = yielded
                    yield piece
                if stream.finish is None:
                    async for piece in agen:  # the hot path: one type test per text piece
                        if type(piece) is str:
                            if piece:
                                yielded += len(piece)
                                yield piece
                            continue
                        text = accept(stream, piece, name)
                        if text is not None:
                            if text:
                                yielded += len(text)
                                yield text
                            continue
                        if with_events:
                            yield piece
                        if stream.finish is not None:
                            break
                if stream.finish is not None:
                    async for piece in agen:  # after the Finish: usage and metadata only
                        accept_after_finish(stream, piece, name)
                        if with_events:
                            yield piece
                elif not yielded:  # neither text nor a Finish: the upstream said nothing
                    raise _no_text()
                stream.text_length = yielded
                stream.completed = True
                if shared:
                    await breaker.arecord_success(name)
                else:
                    breaker.record_success(name)
                return
            except BaseException as raw:  # plugin code may raise anything
                if _callers(raw):
                    raise
                failure = _as_chatplug_error(raw, name, request)
                if failure is not raw:  # keep the original traceback for plugin authors
                    failure.__cause__ = raw
                stream.text_length = yielded
                if yielded or stream.committed:  # out: never retry or fall back, never pretend
                    failure.partial_length = yielded
                    await _record_failure(breaker, name, failure)
                    raise failure from failure.__cause__
                wait = _retry_delay(failure, retry, attempt, loop.time() - started)
                if wait is None:
                    await _record_failure(breaker, name, failure)
                    errors[name] = failure
                    break
            finally:
                if agen is not None:
                    await _close(agen, name)
            await asyncio.sleep(wait)
    if len(errors) == 1:
        raise next(iter(errors.values()))
    raise AllProvidersFailedError(errors)


async def _first_piece(
    agen: AsyncIterator[Any], limit: Optional[float], loop: asyncio.AbstractEventLoop
) -> Any:
    """The first non-empty text piece or other item, within ``limit`` seconds of the request."""
    if limit is None:
        return await _first_nonempty(agen)
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = loop.call_at(loop.time() + limit, expire)
    try:
        async for piece in agen:  # _first_nonempty, inlined: one coroutine less per stream
            if piece or type(piece) is not str:
                return piece
    except asyncio.CancelledError:
        if not expired:
            raise
        uncancel = getattr(task, "uncancel", None)
        if uncancel is not None and uncancel() > 0:
            raise  # the task was also cancelled from outside: that cancellation wins
        raise UpstreamTimeoutError("first_byte", limit) from None
    finally:
        timer.cancel()
    raise _no_text()


async def _first_nonempty(agen: AsyncIterator[Any]) -> Any:
    async for piece in agen:
        if piece or type(piece) is not str:
            return piece
    raise _no_text()


def _callers(error: BaseException) -> bool:
    """Whether ``error`` is the caller's (see ``belongs_to_caller``), or was thrown into this
    generator at its own ``yield`` (``GeneratorExit`` when the consumer closes the stream)
    rather than raised by the plugin's code."""
    if isinstance(error, Exception):
        return False
    traceback = error.__traceback__
    return belongs_to_caller(error) or traceback is None or traceback.tb_next is None


async def _close(agen: AsyncIterator[Any], provider: str) -> None:
    """Close the plugin's generator; what its cleanup raises is logged, not raised (the
    stream is over either way)."""
    try:
        await agen.aclose()  # type: ignore[attr-defined]
    except BaseException as error:  # plugin code may raise anything
        if belongs_to_caller(error):
            raise
        log.warning(
            "%s: the plugin raised %s while closing its stream: %s",
            provider,
            type(error).__name__,
            error,
        )


def _no_text() -> StreamProtocolError:
    return StreamProtocolError(
        "the upstream's stream ended without any text or finish",
        hint="The provider answered with nothing; try again or use another provider.",
    )


def _as_chatplug_error(
    error: BaseException, provider: str, request: Optional[CompletionRequest]
) -> ChatplugError:
    mapped = _map_error(error, provider, request)
    masked = mask_text(mapped.message)  # never show credentials of proxy (or other) URLs
    if masked != mapped.message:
        mapped.message = masked
        mapped.args = (masked, *mapped.args[1:])
    return mapped


def _map_error(
    error: BaseException, provider: str, request: Optional[CompletionRequest]
) -> ChatplugError:
    if isinstance(error, ChatplugError):
        if error.provider is None:
            error.provider = provider
        return error
    if request is not None:
        mapped = map_transport_error(error, request)
        if isinstance(mapped, ChatplugError):
            return mapped
    return PluginError(f"the plugin raised {type(error).__name__}: {error}", provider=provider)


def _retry_delay(
    error: ChatplugError, retry: RetryPolicy, attempt: int, elapsed: float
) -> Optional[float]:
    """Seconds to wait before retrying, or ``None`` to give up on this provider."""
    if not getattr(error, "retryable", False) or attempt >= retry.attempts:
        return None
    retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
    wait = retry.delay(attempt, retry_after)
    if elapsed + wait > retry.max_time:
        return None
    return wait


async def _rests(
    breaker: CircuitBreaker, candidates: List[Tuple[Provider, ModelInfo]]
) -> Dict[str, float]:
    """Seconds each candidate still rests, read from a shared store in one round trip."""
    health = await breaker.ahealth([item.name for item, _ in candidates])
    return {name: breaker.rest_left(state) for name, state in health.items()}


async def _record_failure(breaker: CircuitBreaker, name: str, failure: ChatplugError) -> None:
    """One more failure of ``name``; an upstream's ``Retry-After`` rests it at least that long
    (shared with every process when the store is)."""
    retry_after = failure.retry_after if isinstance(failure, RateLimitedError) else None
    if breaker.shared:
        await breaker.arecord_failure(name, retry_after)
    else:
        breaker.record_failure(name, retry_after)


def _resting(name: str, seconds: float) -> ChatplugError:
    return ChatplugError(
        f"skipped: resting for {seconds:.0f}s after repeated failures",
        provider=name,
        hint="It will be tried again after the cool-down.",
    )


def retry_policy(value: RetryInput) -> RetryPolicy:
    """A :class:`RetryPolicy` from a policy, a number of attempts, or ``None`` (the default)."""
    if value is None:
        return RetryPolicy()
    if isinstance(value, RetryPolicy):
        return value
    return RetryPolicy(attempts=max(1, int(value)))
