"""API keys never reach Redis, the logs or the metrics: only their names do."""

from __future__ import annotations

import logging
import warnings

import pytest
from chatplug.health import CircuitBreaker
from chatplug.redis_store import RedisBackend, RedisHealthStore
from chatplug.server.limits import KeyRing, RedisRateLimiter
from chatplug.server.metrics import Metrics
from chatplug.testing.redis import RedisServer

SECRET = "sk-live-5ecret-d0-not-log-me"
LITERAL = "sk-literal-in-the-file-0000"


async def test_keys_appear_nowhere_in_redis_logs_or_metrics(
    redis_server: RedisServer, backend: RedisBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ring = KeyRing.from_config(
            [
                {"name": "team-a", "key_env": "TEAM_A_KEY", "rpm": 2, "tpm": 50},
                {"name": "team-b", "key": LITERAL, "rpm": 1},
            ],
            environ={"TEAM_A_KEY": SECRET},
        )
    limiter = RedisRateLimiter(backend, ring.keys)
    breaker = CircuitBreaker(threshold=1, store=RedisHealthStore(backend))
    metrics = Metrics()
    for presented in (SECRET, LITERAL, SECRET, SECRET, LITERAL):
        entry = ring.lookup(presented)
        assert entry is not None
        allowed, _ = await limiter.check(entry.name)
        await limiter.add_tokens(entry.name, 20)
        await breaker.arecord_failure("acme")
        metrics.observe(
            provider="acme",
            model="acme/m",
            key_name=entry.name,
            duration=0.1,
            prompt_tokens=10,
            completion_tokens=10,
            error=None if allowed else "rate_limited",
        )
    client = backend.client()
    names = await client.keys("*")
    assert names  # the limits and the health are in Redis
    stored = [repr(await client.dump(name)) for name in names]
    redis_server.stop()  # an outage: its warning, and the fallback path
    await limiter.check("team-a")
    exposition, _ = metrics.render()
    texts = {
        "redis keys": repr(names),
        "redis values": " ".join(stored),
        "logs": caplog.text,
        "warnings": " ".join(str(w.message) for w in caught),
        "metrics": exposition.decode(),
        "repr": repr(ring.keys),
    }
    assert 'key="team-a"' in texts["metrics"] and "team-b" in texts["metrics"]
    assert "unreachable" in texts["logs"] and "'key_env'" in texts["warnings"]
    for where, text in texts.items():
        assert SECRET not in text and LITERAL not in text, where
