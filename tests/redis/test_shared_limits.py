"""Per-key limits shared through a real Redis: exact across processes."""

from __future__ import annotations

import asyncio
import time

from chatplug.redis_store import RedisBackend
from chatplug.server.limits import ApiKey, RedisRateLimiter
from rediskit import run_workers


async def test_a_30_rpm_key_hit_100_times_from_4_processes_lets_exactly_30_through(
    backend: RedisBackend,
) -> None:
    start = str(time.time() + 1.5)  # every worker imported and connected by then
    outputs = run_workers(*[["limit", backend.url, "team", "30", "25", start]] * 4)
    assert sum(int(out) for out in outputs) == 30


async def test_the_limit_is_per_key_name(backend: RedisBackend) -> None:
    limiter = RedisRateLimiter(backend, [ApiKey("a", "ka", rpm=1), ApiKey("b", "kb", rpm=1)])
    assert (await limiter.check("a"))[0]
    assert not (await limiter.check("a"))[0]
    assert (await limiter.check("b"))[0]


async def test_a_refused_request_says_when_a_slot_frees(backend: RedisBackend) -> None:
    limiter = RedisRateLimiter(backend, [ApiKey("team", "k", rpm=2)])
    await limiter.check("team")
    await asyncio.sleep(0.1)
    await limiter.check("team")
    allowed, retry_after = await limiter.check("team")
    assert not allowed
    assert 59.8 < retry_after <= 59.95  # the first request leaves the window first


async def test_the_window_slides(backend: RedisBackend) -> None:
    limiter = RedisRateLimiter(backend, [ApiKey("team", "k", rpm=2)], window=0.5)
    assert (await limiter.check("team"))[0]
    await asyncio.sleep(0.3)
    assert (await limiter.check("team"))[0]
    assert not (await limiter.check("team"))[0]
    await asyncio.sleep(0.25)  # the first left the window, the second is still in it
    assert (await limiter.check("team"))[0]
    assert not (await limiter.check("team"))[0]


async def test_refused_requests_are_not_counted(backend: RedisBackend) -> None:
    limiter = RedisRateLimiter(backend, [ApiKey("team", "k", rpm=1)], window=0.3)
    await limiter.check("team")
    for _ in range(5):
        assert not (await limiter.check("team"))[0]
    await asyncio.sleep(0.32)
    assert (await limiter.check("team"))[0]


async def test_tokens_counted_by_another_process_refuse_requests_here(
    backend: RedisBackend,
) -> None:
    limiter = RedisRateLimiter(backend, [ApiKey("team", "k", tpm=1000)])
    assert (await limiter.check("team"))[0]
    run_workers(["tokens", backend.url, "team", "1000", "600"])
    assert (await limiter.check("team"))[0]  # 600 < 1000: the answer may run over
    await limiter.add_tokens("team", 500)
    allowed, retry_after = await limiter.check("team")
    assert not allowed and 55 < retry_after <= 60


async def test_tokens_leave_the_window(backend: RedisBackend) -> None:
    limiter = RedisRateLimiter(backend, [ApiKey("team", "k", tpm=100)], window=0.4)
    await limiter.add_tokens("team", 80)
    await asyncio.sleep(0.2)
    await limiter.add_tokens("team", 30)
    allowed, retry_after = await limiter.check("team")
    assert not allowed and 0.1 < retry_after <= 0.2  # until the 80 leave
    await asyncio.sleep(retry_after + 0.01)
    assert (await limiter.check("team"))[0]


async def test_a_key_without_limits_never_reaches_redis(backend: RedisBackend) -> None:
    limiter = RedisRateLimiter(backend, [ApiKey("free", "k")])
    assert await limiter.check("free") == (True, 0.0)
    await limiter.add_tokens("free", 10_000)
    assert await limiter.check("someone-else") == (True, 0.0)
    assert await backend.client().dbsize() == 0


async def test_limit_keys_hold_the_name_and_expire_with_the_window(
    backend: RedisBackend,
) -> None:
    limiter = RedisRateLimiter(backend, [ApiKey("team", "k", rpm=5, tpm=100)], window=10)
    await limiter.check("team")
    await limiter.add_tokens("team", 5)
    client = backend.client()
    keys = sorted(await client.keys("*"))
    assert keys == [
        b"chatplug:limit:{team}:requests",
        b"chatplug:limit:{team}:tokens",
        b"chatplug:limit:{team}:total",
    ]
    for key in keys:
        assert 0 < await client.pttl(key) <= 10_000
