"""One chatplug server process's share of the Redis state, as a subprocess of the tests.

worker.py fail URL PROVIDER COUNT [RETRY_AFTER]   record failures (threshold 3, 30 s)
worker.py limit URL NAME RPM COUNT START          COUNT checks from Unix time START on;
                                                  prints how many were allowed
worker.py tokens URL NAME TPM TOKENS              count TOKENS for the key NAME
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, List

from chatplug.health import CircuitBreaker
from chatplug.redis_store import RedisBackend, RedisHealthStore
from chatplug.server.limits import ApiKey, RedisRateLimiter


async def main(command: str, url: str, args: List[str]) -> Any:
    backend = RedisBackend(url)
    try:
        if command == "fail":
            breaker = CircuitBreaker(threshold=3, cooldown=30, store=RedisHealthStore(backend))
            retry_after = float(args[2]) if len(args) > 2 else None
            for _ in range(int(args[1])):
                health = await breaker.arecord_failure(args[0], retry_after)
            return {"failures": health.failures, "resting": breaker.rest_left(health)}
        if command == "limit":
            name, rpm, count, start = args[0], int(args[1]), int(args[2]), float(args[3])
            limiter = RedisRateLimiter(backend, [ApiKey(name, "unused", rpm=rpm)])
            await limiter.check("warm-up")  # no limits: no Redis call, nothing counted
            await backend.client().ping()  # connected before the start signal
            await asyncio.sleep(max(0.0, start - time.time()))
            return sum([(await limiter.check(name))[0] for _ in range(count)])
        if command == "tokens":
            name, tpm, tokens = args[0], int(args[1]), int(args[2])
            limiter = RedisRateLimiter(backend, [ApiKey(name, "unused", tpm=tpm)])
            await limiter.add_tokens(name, tokens)
            return tokens
        raise SystemExit(f"unknown command {command!r}")
    finally:
        assert not backend.outages, "Redis was unreachable from the worker"
        await backend.aclose()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))))
