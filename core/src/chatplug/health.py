"""Provider health: a circuit breaker that rests a provider after repeated failures.

State lives behind :class:`HealthStore` so that a shared store (e.g. Redis) can back it;
:class:`MemoryHealthStore` keeps it in the process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

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


class MemoryHealthStore:
    """Health kept in a dict, for one process."""

    def __init__(self) -> None:
        self._state: Dict[str, ProviderHealth] = {}

    def get(self, provider: str) -> ProviderHealth:
        return self._state.get(provider, _HEALTHY)

    def set(self, provider: str, health: ProviderHealth) -> None:
        self._state[provider] = health


_HEALTHY = ProviderHealth()


class CircuitBreaker:
    """Skip a provider for ``cooldown`` seconds after ``threshold`` consecutive failures."""

    def __init__(
        self,
        threshold: int = 3,
        cooldown: float = 30.0,
        store: Optional[HealthStore] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.store: HealthStore = store if store is not None else MemoryHealthStore()
        self._clock = clock

    def available(self, provider: str) -> bool:
        """Whether ``provider`` may be tried now (closed, or cool-down over: half-open)."""
        return self.store.get(provider).open_until <= self._clock()

    def resting_for(self, provider: str) -> float:
        """Seconds left in the provider's cool-down (0 when available)."""
        return max(0.0, self.store.get(provider).open_until - self._clock())

    def failures(self, provider: str) -> int:
        return self.store.get(provider).failures

    def record_success(self, provider: str) -> None:
        if self.store.get(provider) != _HEALTHY:
            self.store.set(provider, _HEALTHY)

    def record_failure(self, provider: str) -> None:
        failures = self.store.get(provider).failures + 1
        open_until = self._clock() + self.cooldown if failures >= self.threshold else 0.0
        self.store.set(provider, ProviderHealth(failures, open_until))

    def describe(self, provider: str) -> str:
        """``ok``, ``degraded (N failures)`` or ``resting (Ns left after N failures)``."""
        health = self.store.get(provider)
        left = health.open_until - self._clock()
        if left > 0:
            return f"resting ({left:.0f}s left after {health.failures} failures)"
        return f"degraded ({health.failures} failures)" if health.failures else "ok"
