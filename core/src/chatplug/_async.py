"""The asynchronous client, :class:`AsyncClient` (import it from :mod:`chatplug` or
:mod:`chatplug.client`): model resolution, request validation and routes, over the
attempt loop (:mod:`chatplug._attempts`) and the session pool (:mod:`chatplug._pool`)."""

from __future__ import annotations

from functools import partial
from typing import (
    TYPE_CHECKING,
    AbstractSet,
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
from ._request import TYPED_FIELDS, needed_capabilities, request_fields
from .config import ConfigInput, Route, environment, resolve_config
from .errors import InvalidRequestError, ProviderNotFoundError, UnsupportedCapabilityError
from .health import CircuitBreaker
from .messages import MessagesInput, conversation_capabilities
from .registry import PluginInfo, Provider, Registry
from .stream import Completion, Source, Stream
from .types import ModelInfo, ResponseFormat, StopInput, Timeout, Tool

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

    from .history import Recorder

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

    ``log`` opts in to the conversation log (docs/logs.md): a
    :class:`chatplug.history.Recorder`, or ``True`` for one on the default database; each
    stream iterated is then recorded as one exchange.  Off by default.
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
        log: "Union[Recorder, bool, None]" = None,
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
        self.log: Optional["Recorder"] = None
        self._own_log = log is True
        if log is not None and log is not False:
            from .history._client import recorder_for

            self.log = recorder_for(log)

    # lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> "AsyncClient":
        self.session  # noqa: B018 - create the session inside the running loop
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled session (and every connection it holds)."""
        await self._pool.aclose()
        if self._own_log and self.log is not None:
            self.log.close()

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
        tools: Optional[Sequence[Union[Tool, Mapping[str, Any]]]] = None,
        tool_choice: Union[str, Mapping[str, Any], None] = None,
        parallel_tool_calls: Optional[bool] = None,
        response_format: Union[ResponseFormat, Mapping[str, Any], None] = None,
        temperature: Optional[float] = None,
        top_p: Optional[float] = None,
        max_tokens: Optional[int] = None,
        max_completion_tokens: Optional[int] = None,
        stop: Optional[StopInput] = None,
        seed: Optional[int] = None,
        presence_penalty: Optional[float] = None,
        frequency_penalty: Optional[float] = None,
        logit_bias: Optional[Mapping[str, float]] = None,
        user: Optional[str] = None,
        reasoning_effort: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        **options: Any,
    ) -> Stream:
        """Stream the answer's text pieces: ``async for text in client.stream(...)``.

        Messages, provider, model and the request fields are validated here, before any
        network traffic.  The typed fields (``tools``, ``response_format``,
        ``temperature``...) reach the plugin as :class:`~chatplug.CompletionRequest`
        fields (sampling ones also in ``options``, as in contract 0.1); a field that needs
        a capability the model does not declare raises
        :class:`~chatplug.UnsupportedCapabilityError` (with fallback, models without it
        are skipped).  Other ``options`` (``system``...) are passed to the provider as given.
        """
        conversation, needs = conversation_capabilities(messages)
        typed = (tools, tool_choice, parallel_tool_calls, response_format, temperature, top_p,
                 max_tokens, max_completion_tokens, stop, seed, presence_penalty,
                 frequency_penalty, logit_bias, user, reasoning_effort, metadata)  # fmt: skip
        if model is None and provider is None:
            model = self.default_model
        candidates = self._candidates(model, provider)
        fields: Dict[str, Any] = {}
        sampling: Dict[str, Any] = {}
        if typed.count(None) != len(typed):  # not the usual text call: no dict built for it
            try:
                fields, sampling = request_fields(dict(zip(TYPED_FIELDS, typed)))
            except InvalidRequestError as error:
                if len(candidates) == 1:  # name the provider asked for, as its own checks would
                    error.provider = candidates[0][0].name
                raise
        candidates = self._capable(
            candidates, needed_capabilities(fields, needs) if fields else needs
        )
        routes = self._routes(
            candidates,
            proxy if proxy is not None else self.proxy,
            base_url,
            Timeout.coerce(timeout) if timeout is not None else self._timeout,
        )
        options = {key: value for key, value in options.items() if value is not None}
        if sampling:
            options.update(sampling)
        source: Source = partial(
            attempts,
            candidates,
            conversation,
            options,
            fields,
            routes,
            retry_policy(retry) if retry is not None else self.retry,
            self.breaker,
            self._pool.session_for,
        )
        if self.log is not None:
            from .history._client import recording

            source = recording(self.log, source, conversation, {**fields, **options})
        return Stream(source)

    async def complete(self, messages: MessagesInput, **kwargs: Any) -> str:
        """The whole answer as one string (only when the stream completed)."""
        async with self.stream(messages, **kwargs) as stream:
            return "".join([piece async for piece in stream])

    async def respond(self, messages: MessagesInput, **kwargs: Any) -> Completion:
        """The whole answer with everything the plugin reported: text, reasoning, tool
        calls, finish reason, usage, who answered (the arguments of :meth:`stream`)."""
        async with self.stream(messages, **kwargs) as stream:
            text = "".join([piece async for piece in stream])
        return stream.completion(text)

    def _capable(
        self, candidates: List[Tuple[Provider, ModelInfo]], needed: AbstractSet[str]
    ) -> List[Tuple[Provider, ModelInfo]]:
        """The candidates whose model declares every ``needed`` capability (none: an error)."""
        if not needed:
            return candidates
        capable = [pair for pair in candidates if needed <= pair[1].capabilities]
        if capable:
            return capable
        provider, model = candidates[0]
        missing = sorted(needed - model.capabilities)[0]
        alternatives = [
            info.qualified_id for info in self.registry.models() if missing in info.capabilities
        ]
        raise UnsupportedCapabilityError(
            missing, model.qualified_id, alternatives, provider=provider.name
        )

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
