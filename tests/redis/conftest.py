"""Fixtures: a private ``redis-server`` per test (127.0.0.1, a free port, no persistence).

Only skipped when ``redis-server`` is not installed (CI installs it: ``.ci/run``); the
``redis`` Python package is part of the test dependencies (``chatplug[redis]``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
from chatplug.redis_store import RedisBackend
from chatplug.testing.redis import RedisServer, available

HERE = str(Path(__file__).parent)
FAKEPLUGIN = str(Path(__file__).parents[1] / "server" / "fakeplugin")
for path in (HERE, FAKEPLUGIN):  # rediskit, servekit, server_harness (--import-mode=importlib)
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if not available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisServer() as server:
        yield server


@pytest.fixture
async def backend(redis_server: RedisServer) -> AsyncIterator[RedisBackend]:
    """A backend that probes a lost Redis every 50-200 ms (tests need not wait long)."""
    backend = RedisBackend(redis_server.url, retry_min=0.05, retry_max=0.2)
    yield backend
    await backend.aclose()
