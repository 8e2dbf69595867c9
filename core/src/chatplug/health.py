"""Provider health: a circuit breaker that rests a provider after repeated failures.

State lives behind a store so that several processes or machines can share it:

- :class:`HealthStore` (sync ``get``/``set``): :class:`MemoryHealthStore`, the default, keeps
  it in the process; no I/O, no dependency.
- :class:`AsyncHealthStore` (async, atomic updates): a shared store such as
  :class:`chatplug.redis_store.RedisHealthStore`, whose round trips must not block the event
  loop.  The breaker's ``a``-prefixed methods (``await breaker.ahealth(...)``,
  ``await breaker.arecord_failure(...)``) work with either kind of store.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Union

try:  # Python 3.8+
    from typing import Protocol
except ImportError:  # pragma: no cover
    from typing_extensions import Protocol  # type: ignore[assignment]


@dataclass(frozen=True)
class ProviderHealth:
    """Consecutive failures of a provider and, when resting, until when.

    ``open_until`` is wall-clock time (``time.time()``) so that a store shared between
    processes or machines means the same thing everywhere.
    """

    failures: int = 0
    open_until: float = 0.0


class HealthStore(Protocol):
    """Where provider health lives: two methods, so that a shared store (e.g. Redis, one
    hash per provider) can back it.  ``get`` returns ``ProviderHealth()`` for an unknown
    provider.  The breaker calls ``get`` once or twice per provider per completion (never per
    chunk) and ``set`` only when the state changes.  Updates are read-modify-write: a race
    between processes can lose a failure count, which only delays the cool-down."""

    def get(self, provider: str) -> ProviderHealth: ...

    def set(self, provider: str, health: ProviderHealth) -> None: ...


class AsyncHealthStore(Protocol):
    """A shared store updated atomically (no lost failure counts between processes).

    The breaker's policy (``threshold``, ``cooldown``) travels with each update so that the
    store applies it in one atomic step (:func:`after_failure` is the rule).  ``peek`` is the
    state last seen by this process, without I/O (what the sync ``describe`` shows).
    Implementations never raise because their backend is unreachable: they fall back to
    per-process state.
    """

    async def get_many(self, providers: Sequence[str]) -> Dict[str, ProviderHealth]: ...

    async def record_failure(
        self, provider: str, threshold: int, cooldown: float, retry_after: Optional[float]
    ) -> ProviderHealth: ...

    async def record_success(self, provider: str) -> None: ...

    def peek(self, provider: str) -> ProviderHealth: ...


AnyHealthStore = Union[HealthStore, AsyncHealthStore]


class MemoryHealthStore:
    """Health kept in a dict, for one process."""

    def __init__(self) -> None:
        self._state: Dict[str, ProviderHealth] = {}

    def get(self, provider: str) -> ProviderHealth:
        return self._state.get(provider, _HEALTHY)

    def set(self, provider: str, health: ProviderHealth) -> None:
        self._state[provider] = health


_HEALTHY = ProviderHealth()
HEALTHY = _HEALTHY


def after_failure(
    health: ProviderHealth,
    now: float,
    threshold: int,
    cooldown: float,
    retry_after: Optional[float] = None,
) -> ProviderHealth:
    """The state after one more failure: ``threshold`` consecutive failures rest the provider
    for ``cooldown`` seconds; a ``retry_after`` (the upstream's ``Retry-After``) rests it at
    least that long whatever the count; a rest already running is never shortened."""
    failures = health.failures + 1
    open_until = now + cooldown if failures >= threshold else 0.0
    if retry_after is not None and retry_after > 0:
        open_until = max(open_until, now + retry_after)
    if health.open_until > now:
        open_until = max(open_until, health.open_until)
    return ProviderHealth(failures, open_until)


def is_async_store(store: object) -> bool:
    """Whether ``store`` is an :class:`AsyncHealthStore` (its updates are coroutines)."""
    return inspect.iscoroutinefunction(getattr(store, "record_failure", None))


class CircuitBreaker:
    """Skip a provider for ``cooldown`` seconds after ``threshold`` consecutive failures.

    The sync methods (``available``, ``record_failure``...) serve a sync
    :class:`HealthStore`; with an :class:`AsyncHealthStore` the sync reads show the state
    last seen by this process and the sync updates raise :class:`TypeError`.  The async
    methods serve both (a sync store is called directly, without I/O).
    """

    def __init__(
        self,
        threshold: int = 3,
        cooldown: float = 30.0,
        store: Optional[AnyHealthStore] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.store: AnyHealthStore = store if store is not None else MemoryHealthStore()
        self._async: Optional[AsyncHealthStore] = (
            self.store if is_async_store(self.store) else None  # type: ignore[assignment]
        )
        self._clock = clock

    @property
    def shared(self) -> bool:
        """Whether the store is an async (shared) one: use the ``a``-prefixed methods."""
        return self._async is not None

    # -- sync API -----------------------------------------------------------------------

    def _get(self, provider: str) -> ProviderHealth:
        if self._async is not None:
            return self._async.peek(provider)
        return self.store.get(provider)  # type: ignore[union-attr]

    def _sync_store(self, method: str) -> HealthStore:
        if self._async is not None:
            raise TypeError(f"this breaker's store is async: use 'await breaker.a{method}(...)'")
        return self.store  # type: ignore[return-value]

    def available(self, provider: str) -> bool:
        """Whether ``provider`` may be tried now (closed, or cool-down over: half-open)."""
        return self._get(provider).open_until <= self._clock()

    def resting_for(self, provider: str) -> float:
        """Seconds left in the provider's cool-down (0 when available)."""
        return self.rest_left(self._get(provider))

    def failures(self, provider: str) -> int:
        return self._get(provider).failures

    def record_success(self, provider: str) -> None:
        store = self._sync_store("record_success")
        if store.get(provider) != _HEALTHY:
            store.set(provider, _HEALTHY)

    def record_failure(self, provider: str, retry_after: Optional[float] = None) -> None:
        """One more failure; ``retry_after`` (seconds) rests the provider at least that long."""
        store = self._sync_store("record_failure")
        health = after_failure(
            store.get(provider), self._clock(), self.threshold, self.cooldown, retry_after
        )
        store.set(provider, health)

    def describe(self, provider: str) -> str:
        """``ok``, ``degraded (N failures)`` or ``resting (Ns left after N failures)``."""
        return self.describe_health(self._get(provider))

    # -- on a state already read --------------------------------------------------------

    def rest_left(self, health: ProviderHealth) -> float:
        """Seconds left of ``health``'s rest (0 when the provider may be tried)."""
        return max(0.0, health.open_until - self._clock())

    def describe_health(self, health: ProviderHealth) -> str:
        left = health.open_until - self._clock()
        if left > 0:
            return f"resting ({left:.0f}s left after {health.failures} failures)"
        return f"degraded ({health.failures} failures)" if health.failures else "ok"

    # -- async API (any store) ----------------------------------------------------------

    async def ahealth(self, providers: Sequence[str]) -> Dict[str, ProviderHealth]:
        """The state of each provider, in one round trip to a shared store."""
        if self._async is not None:
            return await self._async.get_many(providers)
        get = self.store.get  # type: ignore[union-attr]
        return {provider: get(provider) for provider in providers}

    async def acheck(self, provider: str) -> float:
        """Seconds ``provider`` still rests (``0.0``: it may be tried now)."""
        return self.rest_left((await self.ahealth([provider]))[provider])

    async def arecord_success(self, provider: str) -> None:
        if self._async is not None:
            await self._async.record_success(provider)
        else:
            self.record_success(provider)

    async def arecord_failure(
        self, provider: str, retry_after: Optional[float] = None
    ) -> ProviderHealth:
        """One more failure (atomic in a shared store); returns the new state."""
        if self._async is not None:
            return await self._async.record_failure(
                provider, self.threshold, self.cooldown, retry_after
            )
        self.record_failure(provider, retry_after)
        return self.store.get(provider)  # type: ignore[union-attr]

    async def adescribe(self, provider: str) -> str:
        return self.describe_health((await self.ahealth([provider]))[provider])
