"""What shared state in Redis adds to a request, next to the in-process stores.

Starts a private ``redis-server`` on 127.0.0.1 (loopback: the floor of a real deployment,
where the network round trip adds to every figure) and measures, over ``--requests``
sequential requests, p50 and p99 of what a server request does with the breaker and the
limiter, with the in-process stores (``MemoryHealthStore``, ``MemoryRateLimiter``) and with
Redis (``RedisHealthStore``, ``RedisRateLimiter``; a key with ``rpm`` and ``tpm``):

- **before the first chunk**: ``await limiter.check(name)`` then
  ``await breaker.ahealth([provider])`` (two round trips), and the same two awaited
  together with ``asyncio.gather`` (two connections, about one round trip);
- **after the answer**: ``await limiter.add_tokens(name, n)`` then
  ``await breaker.arecord_success(provider)`` (one round trip: a success on a provider
  seen healthy writes nothing);
- each operation alone: ``health`` (``ahealth``), ``check``, ``add_tokens``;

and the limiter's throughput (``check`` calls per second) from one process at concurrency
1 and 64, and from 4 processes at concurrency 64 each.  ``python redis_cost.py [--quick]``
prints a table, then the JSON (``measure()`` returns it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Any, Awaitable, Callable, Dict, List

from chatplug.health import CircuitBreaker, MemoryHealthStore
from chatplug.redis_store import RedisBackend, RedisHealthStore
from chatplug.server.limits import ApiKey, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from chatplug.testing.redis import RedisServer

KEY = ApiKey("bench", "unused", rpm=10**9, tpm=10**12)  # never refused: every check writes
Step = Callable[[], Awaitable[None]]


def percentiles(samples: List[float]) -> Dict[str, float]:
    cuts = statistics.quantiles(samples, n=100)
    return {"p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000}


async def latency(step: Step, requests: int) -> Dict[str, float]:
    for _ in range(min(1000, requests)):  # warm: connections, scripts loaded
        await step()
    samples = []
    clock = time.perf_counter
    for _ in range(requests):
        started = clock()
        await step()
        samples.append(clock() - started)
    return percentiles(samples)


def steps(breaker: CircuitBreaker, limiter: RateLimiter) -> Dict[str, Step]:
    async def health() -> None:
        await breaker.ahealth(["acme"])

    async def check() -> None:
        await limiter.check(KEY.name)

    async def tokens() -> None:
        await limiter.add_tokens(KEY.name, 120)

    async def before() -> None:
        await check()
        await health()

    async def before_together() -> None:
        await asyncio.gather(check(), health())

    async def after() -> None:
        await tokens()
        await breaker.arecord_success("acme")

    return {
        "before the first chunk": before,
        "before the first chunk, gathered": before_together,
        "after the answer": after,
        "health": health,
        "check": check,
        "add_tokens": tokens,
    }


async def throughput(limiter: RateLimiter, concurrency: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await limiter.check(KEY.name)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return done / (time.perf_counter() - started)


async def redis_throughput(url: str, concurrency: int, seconds: float) -> float:
    backend = RedisBackend(url)
    try:
        limiter = RedisRateLimiter(backend, [KEY])
        await limiter.check(KEY.name)
        rate = await throughput(limiter, concurrency, seconds)
        assert not backend.outages, "Redis was unreachable during the measurement"
        return rate
    finally:
        await backend.aclose()


def processes_throughput(url: str, processes: int, concurrency: int, seconds: float) -> float:
    start = time.time() + 1.0
    command = [sys.executable, __file__, "--worker", url, str(concurrency), str(seconds)]
    running = [
        subprocess.Popen([*command, str(start)], stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    return sum(float(p.communicate(timeout=120)[0]) for p in running)


async def _measure(url: str, requests: int, seconds: float) -> Dict[str, Any]:
    backend = RedisBackend(url)
    try:
        memory = steps(CircuitBreaker(store=MemoryHealthStore()), MemoryRateLimiter([KEY]))
        shared = steps(
            CircuitBreaker(store=RedisHealthStore(backend)), RedisRateLimiter(backend, [KEY])
        )
        report: Dict[str, Any] = {"requests": requests, "steps": list(memory)}
        for name in memory:
            mem, red = await latency(memory[name], requests), await latency(shared[name], requests)
            report[name] = {
                "memory": mem,
                "redis": red,
                "added_p50_ms": red["p50_ms"] - mem["p50_ms"],
                "added_p99_ms": red["p99_ms"] - mem["p99_ms"],
            }
        assert not backend.outages, "Redis was unreachable during the measurement"
    finally:
        await backend.aclose()
    await reset_stats(url)  # from here on, only limiter checks run
    report["throughput_checks_per_s"] = {
        "memory, 1 process, concurrency 1": await throughput(MemoryRateLimiter([KEY]), 1, seconds),
        "redis, 1 process, concurrency 1": await redis_throughput(url, 1, seconds),
        "redis, 1 process, concurrency 64": await redis_throughput(url, 64, seconds),
    }
    return report


def measure(requests: int = 20_000, seconds: float = 3.0) -> Dict[str, Any]:
    with RedisServer() as server:
        report = asyncio.run(_measure(server.url, requests, seconds))
        rate = processes_throughput(server.url, 4, 64, seconds)
        report["throughput_checks_per_s"]["redis, 4 processes, concurrency 64 each"] = rate
        report["redis_server_us_per_check"] = asyncio.run(server_cost(server.url))
    return report


async def reset_stats(url: str) -> None:
    backend = RedisBackend(url)
    await backend.client().config_resetstat()
    await backend.aclose()


async def server_cost(url: str) -> float:
    """Microseconds of Redis CPU per limiter check (its own accounting of EVALSHA)."""
    backend = RedisBackend(url)
    stats = await backend.client().info("commandstats")
    await backend.aclose()
    return float(stats["cmdstat_evalsha"]["usec_per_call"])


def section(report: Dict[str, Any]) -> List[str]:
    """The added-cost section of docs/benchmarks.md (``bench/run.py``)."""
    lines = [
        f"`bench/redis_cost.py`: a private `redis-server` on 127.0.0.1 (loopback: the floor of a "
        "real deployment); what a server request does with the breaker and the limiter, "
        f"in-process (`MemoryHealthStore`, `MemoryRateLimiter`) and in Redis, over "
        f"{report['requests']:,} sequential requests (ms).",
        "",
        "| per request | in-process p50 | Redis p50 | added p50 | in-process p99 | Redis p99 "
        "| added p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in report["steps"]:
        row = report[name]
        mem, red = row["memory"], row["redis"]
        lines.append(
            f"| {name} | {mem['p50_ms']:.3f} | {red['p50_ms']:.3f} | **{row['added_p50_ms']:.3f}** "
            f"| {mem['p99_ms']:.3f} | {red['p99_ms']:.3f} | {row['added_p99_ms']:.3f} |"
        )
    server = report["redis_server_us_per_check"]
    lines += [
        "",
        "Before the first chunk: `limiter.check` then `breaker.ahealth` (one round trip each); "
        "after the answer (in the background, the response is not delayed): "
        "`limiter.add_tokens` and `breaker.arecord_success`.",
        "",
        "| limiter throughput | checks per second |",
        "|---|---:|",
        *[f"| {name} | {rate:,.0f} |" for name, rate in report["throughput_checks_per_s"].items()],
        "",
        f"Redis's own CPU time per limiter check: {server:.1f} us.",
    ]
    return lines


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:  # one of the processes of the throughput figure
        url, concurrency, seconds, start = sys.argv[2:6]
        time.sleep(max(0.0, float(start) - time.time()))
        print(asyncio.run(redis_throughput(url, int(concurrency), float(seconds))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter runs")
    args = parser.parse_args()
    report = measure(2_000, 1.0) if args.quick else measure()
    print("\n".join(section(report)))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
