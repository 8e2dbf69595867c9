"""Redis unreachable at start or mid-run: per-process state, one warning, back by itself."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import List

import pytest
from chatplug.health import CircuitBreaker
from chatplug.redis_store import RedisBackend, RedisHealthStore
from chatplug.server.limits import ApiKey, RedisRateLimiter
from chatplug.testing.redis import RedisServer, free_port

LOGGER = "chatplug.redis"


def warnings_of(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def until_up(backend: RedisBackend, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not backend.up:
        assert time.monotonic() < deadline, "the backend did not reconnect"
        await asyncio.sleep(0.02)


async def exercise(breaker: CircuitBreaker, limiter: RedisRateLimiter, times: int) -> None:
    for _ in range(times):
        await breaker.ahealth(["acme", "other"])
        await breaker.arecord_failure("other")
        await breaker.arecord_success("other")
        await limiter.check("team")
        await limiter.add_tokens("team", 1)


async def test_redis_absent_at_start_serves_with_per_process_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    backend = RedisBackend(f"redis://127.0.0.1:{free_port()}/0", retry_min=0.05)
    breaker = CircuitBreaker(threshold=2, store=RedisHealthStore(backend))
    limiter = RedisRateLimiter(backend, [ApiKey("team", "k", rpm=3)])
    try:
        await breaker.arecord_failure("acme")
        await breaker.arecord_failure("acme")
        assert await breaker.acheck("acme") > 0  # the breaker works in the process
        verdicts = [(await limiter.check("team"))[0] for _ in range(5)]
        assert verdicts == [True, True, True, False, False]  # so do the limits
        assert not backend.up
        (warning,) = warnings_of(caplog)
        assert "unreachable" in warning and "per-process state" in warning
    finally:
        await backend.aclose()


async def test_redis_stopped_mid_run_and_restarted(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    here = RedisBackend(redis_server.url, retry_min=0.05, retry_max=0.2)
    there = RedisBackend(redis_server.url, retry_min=0.05, retry_max=0.2)  # another instance
    breaker = CircuitBreaker(threshold=2, cooldown=30, store=RedisHealthStore(here))
    elsewhere = CircuitBreaker(threshold=2, cooldown=30, store=RedisHealthStore(there))
    limiter = RedisRateLimiter(here, [ApiKey("team", "k", rpm=1000)])
    try:
        await exercise(breaker, limiter, 3)
        redis_server.stop()
        started = time.monotonic()
        await exercise(breaker, limiter, 50)  # nothing raises, nothing waits
        await breaker.arecord_failure("acme")
        await breaker.arecord_failure("acme")  # opened during the outage, in this process
        assert await breaker.acheck("acme") > 0
        assert time.monotonic() - started < 2.0
        assert len(warnings_of(caplog)) == 1
        redis_server.start()
        await until_up(here)
        assert await elsewhere.acheck("acme") > 29  # the outage's state reached Redis
        await elsewhere.arecord_failure("late")
        assert (await breaker.ahealth(["late"]))["late"].failures == 1  # Redis again
        assert len(warnings_of(caplog)) == 1
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        await here.aclose()
        await there.aclose()


async def test_each_outage_logs_one_warning(
    redis_server: RedisServer, backend: RedisBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    breaker = CircuitBreaker(store=RedisHealthStore(backend))
    for outage in (1, 2):
        redis_server.stop()
        for _ in range(20):
            await breaker.arecord_failure("acme")
        assert len(warnings_of(caplog)) == outage
        redis_server.start()
        await until_up(backend)
    assert backend.outages == 2


async def test_a_frozen_redis_delays_one_call_by_the_timeout_at_most(
    redis_server: RedisServer, backend: RedisBackend
) -> None:
    breaker = CircuitBreaker(store=RedisHealthStore(backend))
    await breaker.ahealth(["acme"])  # connected
    redis_server.pause()
    try:
        started = time.monotonic()
        await breaker.ahealth(["acme"])
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(20):
            await breaker.arecord_failure("acme")
        rest = time.monotonic() - started
    finally:
        redis_server.resume()
    assert backend.timeout <= first < backend.timeout + 0.2
    assert rest < 0.05
    await until_up(backend)


async def test_readiness_follows_redis(redis_server: RedisServer, backend: RedisBackend) -> None:
    assert await backend.ping()
    redis_server.stop()
    assert not await backend.ping()
    redis_server.start()
    await until_up(backend)
    assert await backend.ping()


async def test_the_outage_warning_shows_no_credentials(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    backend = RedisBackend(f"redis://user:hunter2-secret@127.0.0.1:{free_port()}/3")
    try:
        await backend.ping()
    finally:
        await backend.aclose()
    (warning,) = warnings_of(caplog)
    assert "redis://127.0.0.1:" in warning and "/3 is unreachable" in warning
    assert "hunter2" not in warning and "user" not in warning


async def test_connections_closed_by_redis_are_not_an_outage(
    backend: RedisBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    breaker = CircuitBreaker(threshold=1, store=RedisHealthStore(backend))
    await breaker.arecord_failure("acme")
    admin = RedisBackend(backend.url)
    try:
        killed = await admin.client().client_kill_filter(skipme=True)  # like an idle timeout
    finally:
        await admin.aclose()
    assert killed >= 1
    assert await breaker.acheck("acme") > 0
    assert backend.up and not warnings_of(caplog)
