"""The attempt loop over a shared (async) health store: one read per completion, failures
and successes recorded through the async API, an upstream's Retry-After shared."""

from __future__ import annotations

import time
from typing import Any, AsyncIterator, Dict, List, Optional, Sequence

from chatplug import (
    AsyncClient,
    CircuitBreaker,
    ModelInfo,
    ProviderHealth,
    RateLimitedError,
    Registry,
    UpstreamHTTPError,
    hookimpl,
)
from chatplug.health import after_failure


class SharedStore:
    """An async store kept in a dict (what a Redis store does, without the network);
    ``calls`` lists each operation, one per round trip a shared store would make."""

    def __init__(self) -> None:
        self.data: Dict[str, ProviderHealth] = {}
        self.calls: List[str] = []

    async def get_many(self, providers: Sequence[str]) -> Dict[str, ProviderHealth]:
        self.calls.append("get " + ",".join(providers))
        return {p: self.peek(p) for p in providers}

    async def record_failure(
        self, provider: str, threshold: int, cooldown: float, retry_after: Optional[float]
    ) -> ProviderHealth:
        self.calls.append(f"failure {provider} retry_after={retry_after}")
        health = after_failure(self.peek(provider), time.time(), threshold, cooldown, retry_after)
        self.data[provider] = health
        return health

    async def record_success(self, provider: str) -> None:
        self.calls.append(f"success {provider}")
        self.data.pop(provider, None)

    def peek(self, provider: str) -> ProviderHealth:
        return self.data.get(provider, ProviderHealth())


class Upstream:
    """A provider answering ``text``, or raising ``error``; counts its calls."""

    def __init__(self, name: str, error: Optional[Exception] = None) -> None:
        self.name = name
        self.error = error
        self.calls = 0

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo("m", self.name, default=True)]

    @hookimpl
    async def stream_completion(self, request: Any, session: Any) -> AsyncIterator[str]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        yield f"from {self.name}"


def client_of(store: Any, *upstreams: Upstream, threshold: int = 3) -> AsyncClient:
    registry = Registry(discover=False)
    for upstream in upstreams:
        registry.register(upstream.name, upstream)
    return AsyncClient(
        registry=registry,
        providers=[u.name for u in upstreams],
        breaker=CircuitBreaker(threshold=threshold, cooldown=30, store=store),
        retry=1,
        config=False,
    )


async def test_a_completion_reads_every_candidates_health_in_one_call() -> None:
    store = SharedStore()
    async with client_of(store, Upstream("first"), Upstream("second")) as client:
        assert await client.complete("hi", model="m") == "from first"
    assert store.calls == ["get first,second", "success first"]


async def test_a_provider_resting_in_the_shared_store_is_skipped_without_a_call() -> None:
    store = SharedStore()
    store.data["first"] = ProviderHealth(3, 2e9)  # opened by another process
    first, second = Upstream("first"), Upstream("second")
    async with client_of(store, first, second) as client:
        assert await client.complete("hi", model="m") == "from second"
    assert first.calls == 0 and second.calls == 1


async def test_failures_reach_the_shared_store_with_the_upstreams_retry_after() -> None:
    store = SharedStore()
    limited = Upstream("first", RateLimitedError("slow down", retry_after=20))
    async with client_of(store, limited, Upstream("second")) as client:
        assert await client.complete("hi", model="m") == "from second"
    assert "failure first retry_after=20" in store.calls
    assert 19 < client.breaker.rest_left(store.peek("first")) <= 20


async def test_a_success_after_failures_elsewhere_resets_the_shared_state() -> None:
    store = SharedStore()
    store.data["first"] = ProviderHealth(2, 0.0)  # two failures seen by another process
    async with client_of(store, Upstream("first")) as client:
        assert await client.complete("hi") == "from first"
    assert store.calls == ["get first", "success first"]
    assert store.peek("first") == ProviderHealth()


async def test_the_threshold_opens_the_shared_breaker() -> None:
    store = SharedStore()
    broken = Upstream("first", UpstreamHTTPError("boom", status=500))
    async with client_of(store, broken, Upstream("second"), threshold=2) as client:
        for _ in range(3):
            assert await client.complete("hi", model="m") == "from second"
    assert broken.calls == 2  # the third request skipped it
    assert store.peek("first").failures == 2


async def test_the_in_process_store_rests_a_provider_for_its_retry_after() -> None:
    limited = Upstream("first", RateLimitedError("slow down", retry_after=20))
    second = Upstream("second")
    async with client_of(None, limited, second) as client:
        for _ in range(2):
            assert await client.complete("hi", model="m") == "from second"
        assert 19 < client.breaker.resting_for("first") <= 20
    assert limited.calls == 1  # the second request did not ask it again


async def test_a_lone_candidate_resting_in_the_shared_store_is_still_tried() -> None:
    store = SharedStore()
    store.data["first"] = ProviderHealth(3, 2e9)
    only = Upstream("first")
    async with client_of(store, only) as client:
        assert await client.complete("hi") == "from first"
    assert only.calls == 1 and store.peek("first") == ProviderHealth()
