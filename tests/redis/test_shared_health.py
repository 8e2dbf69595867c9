"""Provider health shared through a real Redis: what one process records, another sees."""

from __future__ import annotations

import asyncio
import json

import pytest
from chatplug.health import CircuitBreaker
from chatplug.redis_store import RedisBackend, RedisHealthStore
from chatplug.testing.redis import RedisServer
from rediskit import run_workers


def shared_breaker(
    backend: RedisBackend, threshold: int = 3, cooldown: float = 30
) -> CircuitBreaker:
    return CircuitBreaker(threshold=threshold, cooldown=cooldown, store=RedisHealthStore(backend))


async def test_a_breaker_opened_in_another_process_is_open_here(backend: RedisBackend) -> None:
    here = shared_breaker(backend)
    assert await here.acheck("acme") == 0
    (out,) = run_workers(["fail", backend.url, "acme", "3"])
    assert json.loads(out)["failures"] == 3
    resting = await here.acheck("acme")
    assert 29 < resting <= 30
    assert (await here.adescribe("acme")).startswith("resting (30s left after 3 failures")


async def test_failures_from_concurrent_processes_are_all_counted(backend: RedisBackend) -> None:
    run_workers(*[["fail", backend.url, "acme", "25"]] * 4)
    health = (await shared_breaker(backend).ahealth(["acme"]))["acme"]
    assert health.failures == 100


async def test_a_retry_after_deadline_is_shared_below_the_threshold(backend: RedisBackend) -> None:
    (out,) = run_workers(["fail", backend.url, "acme", "1", "20"])
    assert json.loads(out)["failures"] == 1
    assert 19 < await shared_breaker(backend).acheck("acme") <= 20


async def test_a_success_elsewhere_closes_the_breaker_here(backend: RedisBackend) -> None:
    one, two = shared_breaker(backend, threshold=1), shared_breaker(backend, threshold=1)
    await one.arecord_failure("acme")
    assert await two.acheck("acme") > 0
    await one.arecord_success("acme")
    assert await two.acheck("acme") == 0
    assert await two.adescribe("acme") == "ok"


async def test_the_rest_ends_after_the_cooldown_half_open(backend: RedisBackend) -> None:
    breaker = shared_breaker(backend, threshold=1, cooldown=0.2)
    await breaker.arecord_failure("acme")
    assert await breaker.acheck("acme") > 0
    await asyncio.sleep(0.25)
    assert await breaker.acheck("acme") == 0
    health = await breaker.arecord_failure("acme")  # the probe fails: rest again at once
    assert health.failures == 2 and breaker.rest_left(health) > 0.1


async def test_one_round_trip_reads_every_candidate(backend: RedisBackend) -> None:
    breaker = shared_breaker(backend, threshold=2)
    await breaker.arecord_failure("b")
    states = await breaker.ahealth(["a", "b", "c"])
    assert [states[p].failures for p in "abc"] == [0, 1, 0]


async def test_health_keys_are_namespaced_and_expire(
    backend: RedisBackend, redis_server: RedisServer
) -> None:
    store = RedisHealthStore(backend, ttl=60)
    await CircuitBreaker(threshold=1, cooldown=10, store=store).arecord_failure("acme")
    client = backend.client()
    assert await client.keys("*") == [b"chatplug:health:acme"]
    assert 69_000 < await client.pttl("chatplug:health:acme") <= 70_000


async def test_a_success_on_a_healthy_provider_costs_no_round_trip(
    backend: RedisBackend,
) -> None:
    breaker = shared_breaker(backend)
    client = backend.client()
    await client.config_resetstat()
    await breaker.arecord_success("acme")
    info = await client.info("stats")
    assert info["total_commands_processed"] == 1  # the INFO itself


async def test_sync_reads_show_the_state_last_seen(backend: RedisBackend) -> None:
    breaker = shared_breaker(backend, threshold=1)
    await breaker.arecord_failure("acme")
    assert not breaker.available("acme") and breaker.failures("acme") == 1
    assert breaker.describe("acme").startswith("resting")
    with pytest.raises(TypeError, match="arecord_failure"):
        breaker.record_failure("acme")
