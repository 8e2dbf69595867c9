"""The breaker's async API (any store) and the Retry-After rest, without I/O."""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import pytest
from chatplug import CircuitBreaker, MemoryHealthStore, ProviderHealth
from chatplug.health import AsyncHealthStore, after_failure, is_async_store


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class DictAsyncStore:
    """The smallest async store: what a shared store (e.g. Redis) implements."""

    def __init__(self, clock: Clock) -> None:
        self.data: Dict[str, ProviderHealth] = {}
        self.clock = clock
        self.round_trips = 0

    async def get_many(self, providers: Sequence[str]) -> Dict[str, ProviderHealth]:
        self.round_trips += 1
        return {p: self.peek(p) for p in providers}

    async def record_failure(
        self, provider: str, threshold: int, cooldown: float, retry_after: Optional[float]
    ) -> ProviderHealth:
        self.round_trips += 1
        health = after_failure(self.peek(provider), self.clock(), threshold, cooldown, retry_after)
        self.data[provider] = health
        return health

    async def record_success(self, provider: str) -> None:
        self.round_trips += 1
        self.data.pop(provider, None)

    def peek(self, provider: str) -> ProviderHealth:
        return self.data.get(provider, ProviderHealth())


def memory_breaker(**kwargs: float) -> "tuple[CircuitBreaker, Clock]":
    clock = Clock()
    return CircuitBreaker(clock=clock, **kwargs), clock  # type: ignore[arg-type]


def async_breaker(**kwargs: float) -> "tuple[CircuitBreaker, DictAsyncStore]":
    clock = Clock()
    store = DictAsyncStore(clock)
    typed: AsyncHealthStore = store
    return CircuitBreaker(store=typed, clock=clock, **kwargs), store  # type: ignore[arg-type]


async def test_the_async_api_works_over_the_default_memory_store() -> None:
    cb, clock = memory_breaker(threshold=2, cooldown=30)
    assert await cb.acheck("a") == 0
    await cb.arecord_failure("a")
    health = await cb.arecord_failure("a")
    assert health == ProviderHealth(2, 130.0)
    assert await cb.acheck("a") == 30 and not cb.available("a")  # one state for both APIs
    assert await cb.adescribe("a") == "resting (30s left after 2 failures)"
    clock.now += 30
    assert await cb.acheck("a") == 0


async def test_an_async_success_resets_the_provider() -> None:
    cb, _ = memory_breaker(threshold=2)
    await cb.arecord_failure("a")
    await cb.arecord_success("a")
    assert (await cb.ahealth(["a"]))["a"] == ProviderHealth()


async def test_ahealth_reads_every_candidate_in_one_round_trip() -> None:
    cb, store = async_breaker(threshold=3)
    await cb.arecord_failure("b")
    store.round_trips = 0
    states = await cb.ahealth(["a", "b", "c"])
    assert {p: h.failures for p, h in states.items()} == {"a": 0, "b": 1, "c": 0}
    assert store.round_trips == 1


async def test_an_async_store_applies_the_breakers_policy() -> None:
    cb, _ = async_breaker(threshold=2, cooldown=10)
    await cb.arecord_failure("a")
    assert await cb.acheck("a") == 0
    await cb.arecord_failure("a")
    assert await cb.acheck("a") == 10


async def test_with_an_async_store_sync_reads_show_the_last_seen_state() -> None:
    cb, _ = async_breaker(threshold=1, cooldown=10)
    assert cb.shared
    await cb.arecord_failure("a")
    assert not cb.available("a") and cb.failures("a") == 1 and cb.resting_for("a") == 10
    assert cb.describe("a") == "resting (10s left after 1 failures)"


def test_with_an_async_store_sync_updates_raise_a_type_error() -> None:
    cb, _ = async_breaker()
    with pytest.raises(TypeError, match=r"await breaker\.arecord_success"):
        cb.record_success("a")
    with pytest.raises(TypeError, match=r"await breaker\.arecord_failure"):
        cb.record_failure("a")


def test_only_stores_with_async_updates_are_async() -> None:
    assert not is_async_store(MemoryHealthStore())
    assert is_async_store(DictAsyncStore(Clock()))
    assert not CircuitBreaker().shared


def test_a_retry_after_rests_the_provider_below_the_threshold() -> None:
    cb, clock = memory_breaker(threshold=3, cooldown=30)
    cb.record_failure("a", retry_after=12)
    assert cb.failures("a") == 1 and cb.resting_for("a") == 12
    clock.now += 12
    assert cb.available("a")


def test_a_retry_after_longer_than_the_cooldown_wins() -> None:
    cb, _ = memory_breaker(threshold=1, cooldown=30)
    cb.record_failure("a", retry_after=90)
    assert cb.resting_for("a") == 90


def test_a_failure_never_shortens_a_running_rest() -> None:
    cb, clock = memory_breaker(threshold=5, cooldown=30)
    cb.record_failure("a", retry_after=60)
    clock.now += 10
    cb.record_failure("a", retry_after=5)
    cb.record_failure("a")
    assert cb.resting_for("a") == 50


def test_without_retry_after_the_rule_is_unchanged() -> None:
    health = ProviderHealth()
    for expected in (ProviderHealth(1, 0.0), ProviderHealth(2, 0.0), ProviderHealth(3, 130.0)):
        health = after_failure(health, 100.0, threshold=3, cooldown=30)
        assert health == expected
