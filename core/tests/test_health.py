"""The circuit breaker and its store interface (a shared store such as Redis plugs in here)."""

from __future__ import annotations

from typing import Dict, List, Tuple

from chatplug import CircuitBreaker, HealthStore, MemoryHealthStore, ProviderHealth


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(threshold: int = 3, cooldown: float = 30.0) -> Tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(threshold=threshold, cooldown=cooldown, clock=clock), clock


def test_a_new_provider_is_available_and_ok() -> None:
    cb, _ = breaker()
    assert cb.available("a") and cb.failures("a") == 0
    assert cb.describe("a") == "ok"


def test_failures_below_the_threshold_keep_the_provider_available() -> None:
    cb, _ = breaker(threshold=3)
    cb.record_failure("a")
    cb.record_failure("a")
    assert cb.available("a")
    assert cb.describe("a") == "degraded (2 failures)"


def test_reaching_the_threshold_rests_the_provider_for_the_cooldown() -> None:
    cb, clock = breaker(threshold=3, cooldown=30)
    for _ in range(3):
        cb.record_failure("a")
    assert not cb.available("a")
    assert cb.resting_for("a") == 30
    assert cb.describe("a") == "resting (30s left after 3 failures)"
    clock.now += 29.9
    assert not cb.available("a")


def test_after_the_cooldown_the_provider_is_available_again_half_open() -> None:
    cb, clock = breaker(threshold=2, cooldown=30)
    cb.record_failure("a")
    cb.record_failure("a")
    clock.now += 30
    assert cb.available("a") and cb.resting_for("a") == 0
    cb.record_failure("a")  # the probe fails: rest again at once
    assert not cb.available("a")


def test_a_success_resets_the_provider() -> None:
    cb, _ = breaker(threshold=2)
    cb.record_failure("a")
    cb.record_success("a")
    assert cb.failures("a") == 0 and cb.describe("a") == "ok"


def test_providers_are_independent() -> None:
    cb, _ = breaker(threshold=1)
    cb.record_failure("a")
    assert not cb.available("a") and cb.available("b")


def test_memory_store_returns_healthy_for_unknown_providers() -> None:
    store = MemoryHealthStore()
    assert store.get("x") == ProviderHealth()
    store.set("x", ProviderHealth(2, 5.0))
    assert store.get("x") == ProviderHealth(2, 5.0)


class RecordingStore:
    """A store with only ``get`` and ``set``: all a shared (e.g. Redis) store has to offer."""

    def __init__(self) -> None:
        self.data: Dict[str, ProviderHealth] = {}
        self.calls: List[str] = []

    def get(self, provider: str) -> ProviderHealth:
        self.calls.append(f"get {provider}")
        return self.data.get(provider, ProviderHealth())

    def set(self, provider: str, health: ProviderHealth) -> None:
        self.calls.append(f"set {provider}")
        self.data[provider] = health


def test_a_custom_store_backs_the_breaker_and_is_shared_between_breakers() -> None:
    store = RecordingStore()
    typed: HealthStore = store
    clock = Clock()
    one = CircuitBreaker(threshold=2, cooldown=10, store=typed, clock=clock)
    two = CircuitBreaker(threshold=2, cooldown=10, store=typed, clock=clock)
    one.record_failure("a")
    two.record_failure("a")  # e.g. another server instance sharing the store
    assert not one.available("a") and not two.available("a")
    assert store.data["a"].failures == 2


def test_a_success_on_a_healthy_provider_does_not_write_to_the_store() -> None:
    store = RecordingStore()
    cb = CircuitBreaker(store=store)
    cb.record_success("a")
    assert store.calls == ["get a"]  # the common path costs one read
