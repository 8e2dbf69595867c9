"""The user API: :class:`AsyncClient` and its synchronous twin :class:`Client`.

This module is the façade: the attempt loop (retries, fallback, the first-byte timer)
lives in :mod:`chatplug._attempts`, the HTTP sessions in :mod:`chatplug._pool`, the
streamed answer in :mod:`chatplug.stream` and the synchronous wrapper in
:mod:`chatplug._sync`; every name is importable from here.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from ._attempts import RetryInput, attempts, retry_policy
from ._pool import SessionPool
from ._sync import Client, SyncStream
from .config import ConfigInput, Route, environment, resolve_config
from .errors import ProviderNotFoundError
from .health import CircuitBreaker
from .messages import MessagesInput, normalize_messages
from .registry import PluginInfo, Provider, Registry
from .stream import Stream
from .types import ModelInfo, Timeout

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__all__ = [
    "ORDER_GIVEN",
    "ORDER_HEALTHIEST",
    "AsyncClient",
    "Client",
    "Resolved",
    "RetryInput",
    "Stream",
    "SyncStream",
    "TimeoutInput",
]

TimeoutInput = Union[Timeout, float, None]

ORDER_GIVEN, ORDER_HEALTHIEST = "given", "healthiest"


class Resolved(NamedTuple):
    """Who would serve a request: the provider id, its model and the provider's info
    (``info.plugin`` names the installed plugin behind a provider declared in the
    configuration)."""

    provider: str
    model: ModelInfo
    info: PluginInfo


class AsyncClient:
    """Stream chat completions from any installed provider.

    ``async with AsyncClient() as client:`` opens one pooled aiohttp session, closed on
    exit.  ``providers`` is the fallback order (and restricts bare model ids to those
    providers); ``base_urls`` maps provider ids to URL overrides; ``proxy``, ``timeout``
    and ``retry`` are defaults for every call; ``fallback`` is ``"given"`` (the order) or
    ``"healthiest"`` (fewest recent failures first).  ``retry_default`` is the policy used
    when neither ``retry`` nor the configuration sets one (a server's own default).

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
        retry_default: RetryInput = None,
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
        self.retry = (
            retry_policy(retry)
            if retry is not None
            else defaults.retry or retry_policy(retry_default)
        )
        self.fallback = fallback
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self._pool = SessionPool(self.timeout, connection_limit)
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
        await self._pool.aclose()

    @property
    def session(self) -> "aiohttp.ClientSession":
        """The client's pooled aiohttp session, created on first use."""
        return self._pool.session

    @property
    def _session(self) -> Optional["aiohttp.ClientSession"]:
        return self._pool._session

    @property
    def _socks_sessions(self) -> Mapping[str, "aiohttp.ClientSession"]:
        return self._pool._socks

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

    def resolve(
        self, model: Optional[str] = None, provider: Optional[str] = None
    ) -> List[Resolved]:
        """Who would serve ``stream(model=..., provider=...)``, in the order tried.

        The same resolution as :meth:`stream` (the default model, the fallback order),
        without any network traffic; raises the same typed errors.
        """
        if model is None and provider is None:
            model = self.default_model
        candidates = self._candidates(model, provider)
        return [Resolved(item.name, found, item.info) for item, found in candidates]

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
        stream._agen = attempts(
            stream._progress,  # not the stream itself: no cycle (see _Progress)
            candidates,
            conversation,
            {key: value for key, value in options.items() if value is not None},
            routes,
            retry_policy(retry) if retry is not None else self.retry,
            self.breaker,
            self._pool.session_for,
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
