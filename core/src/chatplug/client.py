"""The user API: :class:`AsyncClient` and its synchronous twin :class:`Client`."""

from __future__ import annotations

import asyncio
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .config import (
    ConfigInput,
    Route,
    environment,
    mask_url,
    resolve_config,
    socks_connector,
)
from .errors import (
    AllProvidersFailedError,
    ChatplugError,
    PluginError,
    ProviderNotFoundError,
    RateLimitedError,
    StreamProtocolError,
    UpstreamTimeoutError,
)
from .health import CircuitBreaker
from .http import map_transport_error
from .messages import MessagesInput, normalize_messages
from .registry import PluginInfo, Provider, Registry
from .types import CompletionRequest, Message, ModelInfo, RetryPolicy, Timeout

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

TimeoutInput = Union[Timeout, float, None]
RetryInput = Union[RetryPolicy, int, None]

ORDER_GIVEN, ORDER_HEALTHIEST = "given", "healthiest"


class _Progress:
    """What the generator reports to its :class:`Stream`.

    Kept apart from the stream so that the stream and its generator form no reference
    cycle: a consumer dropping the stream (``break`` out of ``async for``) frees it at once,
    and the event loop's async-generator finalizer then closes the upstream response.
    """

    __slots__ = ("attempts", "model", "provider", "text_length")

    def __init__(self) -> None:
        self.provider: Optional[str] = None
        self.model: Optional[str] = None
        self.text_length = 0
        self.attempts: List[Tuple[str, str]] = []


class Stream:
    """An answer being streamed: iterate it for text pieces (``async for``).

    Use it as an async context manager (or call :meth:`aclose`) to release the upstream
    connection at once when you stop early.  After the first piece, ``provider`` and
    ``model`` say who is answering; ``text_length`` counts the characters yielded (set at
    the first piece and when the stream ends or fails, not on every piece).
    """

    __slots__ = ("_agen", "_progress")

    def __init__(self) -> None:
        self._agen: AsyncIterator[str]
        self._progress = _Progress()

    @property
    def provider(self) -> Optional[str]:
        return self._progress.provider

    @property
    def model(self) -> Optional[str]:
        return self._progress.model

    @property
    def text_length(self) -> int:
        return self._progress.text_length

    @property
    def attempts(self) -> List[Tuple[str, str]]:
        """``(provider, model)`` of every attempt so far, retries included."""
        return self._progress.attempts

    def __aiter__(self) -> AsyncIterator[str]:
        # ``async for`` drives the generator itself: no Python-level __anext__ per piece.
        # (The generator holds the _Progress, not the stream, so dropping the stream is fine.)
        return self._agen

    def __anext__(self) -> Any:
        return self._agen.__anext__()

    async def aclose(self) -> None:
        await self._agen.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> "Stream":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class AsyncClient:
    """Stream chat completions from any installed provider.

    ``async with AsyncClient() as client:`` opens one pooled aiohttp session, closed on
    exit.  ``providers`` is the fallback order (and restricts bare model ids to those
    providers); ``base_urls`` maps provider ids to URL overrides; ``proxy``, ``timeout``
    and ``retry`` are defaults for every call; ``fallback`` is ``"given"`` (the order) or
    ``"healthiest"`` (fewest recent failures first).

    ``config`` is the configuration: ``None`` reads ``chatplug.toml`` (see
    :mod:`chatplug.config`), ``False`` ignores it, or a path, a mapping or a
    :class:`~chatplug.config.Config`.  Arguments beat the environment, which beats the file.
    """

    def __init__(
        self,
        *,
        providers: Optional[Sequence[str]] = None,
        base_urls: Optional[Mapping[str, str]] = None,
        proxy: Optional[str] = None,
        timeout: TimeoutInput = None,
        retry: RetryInput = None,
        fallback: Optional[str] = None,
        registry: Optional[Registry] = None,
        breaker: Optional[CircuitBreaker] = None,
        connection_limit: int = 0,
        config: ConfigInput = None,
    ) -> None:
        self.config = resolve_config(config)
        self._environ = environment()  # CHATPLUG_* and proxy variables, read once
        defaults = self.config.defaults
        fallback = fallback or defaults.fallback or ORDER_GIVEN
        if fallback not in (ORDER_GIVEN, ORDER_HEALTHIEST):
            raise ValueError(f"fallback must be 'given' or 'healthiest', not {fallback!r}")
        self.registry = self.config.registry(registry)
        self.order: Tuple[str, ...] = tuple(providers or defaults.providers or ())
        self.base_urls: Dict[str, str] = dict(base_urls or {})
        self.proxy = proxy
        self.default_model = defaults.model
        self._timeout = Timeout.coerce(timeout) if timeout is not None else None
        self.timeout = self._timeout or Timeout(**defaults.timeout)
        self.retry = _retry_policy(retry) if retry is not None else defaults.retry or RetryPolicy()
        self.fallback = fallback
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self._connection_limit = connection_limit
        self._session: Optional["aiohttp.ClientSession"] = None
        self._socks_sessions: Dict[str, "aiohttp.ClientSession"] = {}
        # (provider, base_url, proxy, timeout) -> route: the configuration and the
        # environment snapshot are fixed for the client's life, so a route is too.
        self._route_cache: Dict[Tuple[Any, ...], Route] = {}

    # lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> "AsyncClient":
        self.session  # noqa: B018 - create the session inside the running loop
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled session (and every connection it holds)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        while self._socks_sessions:
            await self._socks_sessions.popitem()[1].close()

    @property
    def session(self) -> "aiohttp.ClientSession":
        """The client's pooled aiohttp session, created on first use."""
        if self._session is None or self._session.closed:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit),
                timeout=self.timeout.client_timeout(),
            )
        return self._session

    def _session_for(self, route: Route) -> "aiohttp.ClientSession":
        """The pooled session, or for a SOCKS proxy one session per proxy (a connector)."""
        if not route.socks or route.proxy is None:
            return self.session
        session = self._socks_sessions.get(route.proxy)
        if session is None or session.closed:
            import aiohttp

            session = aiohttp.ClientSession(
                connector=socks_connector(route.proxy, limit=self._connection_limit),
                timeout=self.timeout.client_timeout(),
            )
            self._socks_sessions[route.proxy] = session
        return session

    def _routes(
        self,
        candidates: List[Tuple[Provider, ModelInfo]],
        proxy: Optional[str],
        base_url: Optional[str],
        timeout: Optional[Timeout],
    ) -> Dict[str, Tuple[Route, Mapping[str, Any]]]:
        """Each candidate's route and settings (raises :class:`ConfigError` before any I/O)."""
        routes: Dict[str, Tuple[Route, Mapping[str, Any]]] = {}
        for provider, _model in candidates:
            name = provider.name
            key = (name, base_url or self.base_urls.get(name), proxy, timeout)
            route = self._route_cache.get(key)
            if route is None:
                route = self.config.route(
                    name, base_url=key[1], proxy=proxy, timeout=timeout, environ=self._environ
                )
                if len(self._route_cache) >= 256:  # per-call URLs or proxies: stay bounded
                    self._route_cache.clear()
                self._route_cache[key] = route
            routes[name] = (route, self.config.settings(provider))
        return routes

    # discovery -----------------------------------------------------------------

    def providers(self) -> List[PluginInfo]:
        """Installed providers with their status and health (``info.health``)."""
        infos = self.registry.plugins()
        for info in infos:
            info.health = self.breaker.describe(info.name)  # type: ignore[attr-defined]
        return infos

    def models(self, provider: Optional[str] = None) -> List[ModelInfo]:
        """Every model of every loaded provider, or of ``provider``."""
        return self.registry.models(provider)

    # completions ---------------------------------------------------------------

    def stream(
        self,
        messages: MessagesInput,
        *,
        model: Optional[str] = None,
        provider: Optional[str] = None,
        proxy: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: TimeoutInput = None,
        retry: RetryInput = None,
        **options: Any,
    ) -> Stream:
        """Stream the answer's text pieces: ``async for text in client.stream(...)``.

        Messages, provider and model are validated here, before any network traffic.
        ``options`` (``system``, ``temperature``, ...) are passed to the provider.
        """
        conversation = normalize_messages(messages)
        if model is None and provider is None:
            model = self.default_model
        candidates = self._candidates(model, provider)
        routes = self._routes(
            candidates,
            proxy if proxy is not None else self.proxy,
            base_url,
            Timeout.coerce(timeout) if timeout is not None else self._timeout,
        )
        stream = Stream()
        stream._agen = self._run(
            stream._progress,  # not the stream itself: no cycle (see _Progress)
            candidates,
            conversation,
            {key: value for key, value in options.items() if value is not None},
            routes,
            _retry_policy(retry) if retry is not None else self.retry,
        )
        return stream

    async def complete(self, messages: MessagesInput, **kwargs: Any) -> str:
        """The whole answer as one string (only when the stream completed)."""
        async with self.stream(messages, **kwargs) as stream:
            return "".join([piece async for piece in stream])

    def _candidates(
        self, model: Optional[str], provider: Optional[str]
    ) -> List[Tuple[Provider, ModelInfo]]:
        candidates = self.registry.candidates(model, provider, self.order)
        if not candidates:
            raise ProviderNotFoundError(provider or "(any)", self.registry.names())
        if self.fallback == ORDER_HEALTHIEST and len(candidates) > 1:
            failures = self.breaker.failures
            candidates.sort(key=lambda pair: failures(pair[0].name))
        return candidates

    async def _run(
        self,
        stream: _Progress,
        candidates: List[Tuple[Provider, ModelInfo]],
        messages: Tuple[Message, ...],
        options: Dict[str, Any],
        routes: Mapping[str, Tuple[Route, Mapping[str, Any]]],
        retry: RetryPolicy,
    ) -> AsyncIterator[str]:
        errors: Dict[str, ChatplugError] = {}
        loop = asyncio.get_running_loop()
        breaker = self.breaker
        # Resting providers are skipped while another candidate is available; when every
        # candidate rests, they are all tried (failing without trying would answer nothing).
        skip_resting = len(candidates) > 1 and any(
            breaker.available(item.name) for item, _ in candidates
        )
        for provider, model in candidates:
            name = provider.name
            if skip_resting and not breaker.available(name):
                errors[name] = _resting(name, breaker.resting_for(name))
                continue
            route, settings = routes[name]
            try:
                request = CompletionRequest(
                    provider=name,
                    model=model.id,
                    messages=messages,
                    prompt=provider.format_prompt(messages, model.id),
                    options={**route.options, **options} if route.options else options,
                    proxy=None if route.socks else route.proxy,  # SOCKS: the session's connector
                    base_url=route.base_url,
                    timeout=route.timeout,
                    settings=settings,
                )
                session = self._session_for(route)
            except Exception as error:
                errors[name] = _as_chatplug_error(error, name, None)
                if errors[name] is not error:
                    errors[name].__cause__ = error
                continue
            started = loop.time()
            attempt = 0
            while True:
                attempt += 1
                stream.attempts.append((name, model.id))
                yielded = 0
                agen: Optional[AsyncIterator[str]] = None
                try:
                    agen = provider.stream(request, session)
                    first = await _first_piece(agen, request.timeout.first_byte, loop)
                    stream.provider, stream.model = name, model.id
                    yielded = len(first)
                    stream.text_length = yielded
                    yield first
                    async for piece in agen:
                        # contract-0.2 events (tuples) are not surfaced by this loop yet
                        if piece and not isinstance(piece, tuple):
                            yielded += len(piece)
                            yield piece
                    stream.text_length = yielded
                    breaker.record_success(name)
                    return
                except Exception as raw:
                    failure = _as_chatplug_error(raw, name, request)
                    if failure is not raw:  # keep the original traceback for plugin authors
                        failure.__cause__ = raw
                    stream.text_length = yielded
                    if yielded:  # text is out: never retry or fall back, never pretend
                        failure.partial_length = yielded
                        breaker.record_failure(name)
                        raise failure from failure.__cause__
                    wait = _retry_delay(failure, retry, attempt, loop.time() - started)
                    if wait is None:
                        breaker.record_failure(name)
                        errors[name] = failure
                        break
                finally:
                    if agen is not None:
                        await agen.aclose()  # type: ignore[attr-defined]
                await asyncio.sleep(wait)
        if len(errors) == 1:
            raise next(iter(errors.values()))
        raise AllProvidersFailedError(errors)


async def _first_piece(
    agen: AsyncIterator[str], limit: Optional[float], loop: asyncio.AbstractEventLoop
) -> str:
    """The first non-empty text piece, within ``limit`` seconds of the request."""
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
            if piece and not isinstance(piece, tuple):
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


async def _first_nonempty(agen: AsyncIterator[str]) -> str:
    async for piece in agen:
        if piece and not isinstance(piece, tuple):
            return piece
    raise _no_text()


def _no_text() -> StreamProtocolError:
    return StreamProtocolError(
        "the upstream's stream ended without any text",
        hint="The provider answered with nothing; try again or use another provider.",
    )


def _as_chatplug_error(
    error: BaseException, provider: str, request: Optional[CompletionRequest]
) -> ChatplugError:
    mapped = _map_error(error, provider, request)
    if "@" in mapped.message:  # never show credentials of proxy (or other) URLs
        mapped.message = mask_url(mapped.message)
        mapped.args = (mapped.message, *mapped.args[1:])
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


def _resting(name: str, seconds: float) -> ChatplugError:
    return ChatplugError(
        f"skipped: resting for {seconds:.0f}s after repeated failures",
        provider=name,
        hint="It will be tried again after the cool-down.",
    )


def _retry_policy(value: RetryInput) -> RetryPolicy:
    if value is None:
        return RetryPolicy()
    if isinstance(value, RetryPolicy):
        return value
    return RetryPolicy(attempts=max(1, int(value)))


class Client:
    """The synchronous client: the same API as :class:`AsyncClient`, without ``await``.

    Runs a private event loop in the calling thread; use :class:`AsyncClient` inside
    async code.  ``with Client() as client:`` closes the session on exit.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._async = AsyncClient(**kwargs)
        self._open: "weakref.WeakSet[SyncStream]" = weakref.WeakSet()

    @property
    def async_client(self) -> AsyncClient:
        return self._async

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._loop.is_closed():
            for stream in list(self._open):  # before the session: each releases its response
                stream.close()
            self._run(self._async.aclose())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _run(self, awaitable: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            if hasattr(awaitable, "close"):
                awaitable.close()
            raise RuntimeError("chatplug.Client cannot run inside an event loop; use AsyncClient")
        task = asyncio.ensure_future(awaitable, loop=self._loop)
        try:
            return self._loop.run_until_complete(task)
        except BaseException:
            if not task.done():  # interrupted (Ctrl-C) while waiting: unwind the stream now
                task.cancel()
                try:
                    self._loop.run_until_complete(task)
                except (asyncio.CancelledError, Exception):
                    pass
            raise

    def providers(self) -> List[PluginInfo]:
        return self._async.providers()

    def models(self, provider: Optional[str] = None) -> List[ModelInfo]:
        return self._async.models(provider)

    def stream(self, messages: MessagesInput, **kwargs: Any) -> "SyncStream":
        """Stream the answer's text pieces: ``for text in client.stream(...)``.

        Breaking out of the loop (or leaving ``with client.stream(...) as stream:``)
        closes the upstream response.
        """
        stream = SyncStream(self, self._async.stream(messages, **kwargs))
        self._open.add(stream)
        return stream

    def complete(self, messages: MessagesInput, **kwargs: Any) -> str:
        return "".join(self.stream(messages, **kwargs))


class SyncStream:
    """An answer being streamed by :class:`Client`: iterate it for text pieces.

    The synchronous twin of :class:`Stream`: a context manager (``close()`` releases the
    upstream connection at once), with ``provider``, ``model``, ``text_length`` and
    ``attempts``.  Dropping it unfinished (``break``) closes it too.
    """

    __slots__ = ("__weakref__", "_client", "_closed", "_stream")

    def __init__(self, client: Client, stream: Stream) -> None:
        self._client = client
        self._stream = stream
        self._closed = False

    @property
    def provider(self) -> Optional[str]:
        return self._stream.provider

    @property
    def model(self) -> Optional[str]:
        return self._stream.model

    @property
    def text_length(self) -> int:
        return self._stream.text_length

    @property
    def attempts(self) -> List[Tuple[str, str]]:
        return self._stream.attempts

    def __iter__(self) -> "SyncStream":
        return self

    def __next__(self) -> str:
        if self._closed:
            raise StopIteration
        try:
            return self._client._run(self._stream.__anext__())  # type: ignore[no-any-return]
        except StopAsyncIteration:
            self.close()
            raise StopIteration from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the upstream response (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop = self._client._loop
        if loop.is_closed():
            return
        if loop.is_running():  # finalised from inside the loop: close on its next turn
            loop.create_task(self._stream.aclose())
        else:
            self._client._run(self._stream.aclose())

    def __enter__(self) -> "SyncStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not self._closed:
            try:
                self.close()
            except Exception:  # pragma: no cover - interpreter shutdown
                pass
