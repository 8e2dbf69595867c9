"""State shared through Redis: the connection with its outage handling, and provider health.

:class:`RedisBackend` is one connection pool per process (``redis.asyncio``, the
``chatplug[redis]`` extra) that never lets an unreachable Redis fail a caller: every
operation comes with a per-process fallback, used while Redis is down.  Short socket timeouts
bound the wait when Redis hangs; the first failure logs one warning for the whole outage and
starts a background probe that pings Redis at a growing interval (``retry_min`` up to
``retry_max`` seconds), runs the reconnect callbacks (e.g. pushing state recorded during the
outage), then switches back to Redis and logs that it is reachable again.

:class:`RedisHealthStore` is the :class:`~chatplug.health.AsyncHealthStore` over it: one
hash per provider, ``<namespace>:health:<provider>`` (fields ``failures`` and
``open_until`` in Redis server milliseconds), updated by Lua scripts (atomic: concurrent
failures from many processes are all counted) and expiring ``ttl`` seconds after the last
failure or the end of the rest.  Times come from the Redis server's clock, so machines with
skewed clocks still agree on when a rest ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    TypeVar,
    Union,
)
from urllib.parse import urlsplit

from .errors import ConfigError
from .health import HEALTHY, MemoryHealthStore, ProviderHealth, after_failure

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis

T = TypeVar("T")
Arg = Union[str, int, float]
ReconnectCallback = Callable[[], Awaitable[None]]

log = logging.getLogger("chatplug.redis")

DEFAULT_NAMESPACE = "chatplug"
DEFAULT_TIMEOUT = 0.25
DEFAULT_CONNECT_TIMEOUT = 1.0


class Script:
    """A Lua script, run by its SHA1 (loaded again when Redis has forgotten it)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


def redis_location(url: str) -> str:
    """``scheme://host:port/db`` of a Redis URL, without credentials (safe to log)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisBackend:
    """One Redis connection pool for the process, with per-process fallback during outages.

    Nothing connects before the first operation (create it before forking workers, use it
    after).  ``timeout`` bounds each reply and ``connect_timeout`` opening a connection
    (seconds; longer, so that a burst of new connections on a busy event loop is not taken
    for an outage).
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        retry_min: float = 0.5,
        retry_max: float = 5.0,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401
            from redis.exceptions import ConnectionError, RedisError
        except ImportError:
            raise ConfigError(
                "a Redis URL is configured but the 'redis' package is not installed",
                hint="pip install 'chatplug[redis]'",
            ) from None
        self.url = url
        self.location = redis_location(url)
        self.namespace = namespace
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.errors: Tuple[Type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)
        self.closed: Tuple[Type[BaseException], ...] = (ConnectionError,)
        self._client: Optional[Redis] = None
        self._up = True
        self._down_since = 0.0
        self._probe: Optional[asyncio.Task[None]] = None
        self._on_reconnect: List[ReconnectCallback] = []
        self.outages = 0

    @property
    def up(self) -> bool:
        """Whether Redis answered the last operation (``False`` during an outage)."""
        return self._up

    def key(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    def on_reconnect(self, callback: ReconnectCallback) -> None:
        """Run ``callback`` when Redis is back, before operations use it again."""
        self._on_reconnect.append(callback)

    def client(self) -> Redis:
        if self._client is None:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            self._client = Redis.from_url(
                self.url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.connect_timeout,
                retry=Retry(NoBackoff(), 0),  # the fallback is the retry: never wait twice
            )
        return self._client

    async def eval(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """Run ``script`` (raises on a Redis error: use it inside :meth:`run`)."""
        from redis.exceptions import NoScriptError

        client = self.client()
        try:
            return await client.evalsha(script.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
        except NoScriptError:  # a restarted Redis: load it again
            return await client.eval(script.source, len(keys), *keys, *args)  # type: ignore[no-untyped-call]

    async def run(self, operation: Callable[[], Awaitable[T]], fallback: Callable[[], T]) -> T:
        """``await operation()`` against Redis, or ``fallback()`` while Redis is unreachable."""
        if not self._up:
            return fallback()
        try:
            try:
                return await operation()
            except self.closed:  # a pooled connection closed by Redis (idle, restart): once more
                return await operation()
        except self.errors as error:
            self.went_down(error)
            return fallback()

    async def ping(self) -> bool:
        """Whether Redis answers now (for a readiness probe; never raises)."""
        if not self._up:
            return False
        try:
            await self.client().ping()  # type: ignore[misc]
            return True
        except self.errors as error:
            self.went_down(error)
            return False

    def went_down(self, error: BaseException) -> None:
        """Switch to per-process state: one warning per outage, then probe in the background."""
        if self._up:
            self._up = False
            self.outages += 1
            self._down_since = time.monotonic()
            log.warning(
                "Redis at %s is unreachable (%s: %s); using per-process state until it is back",
                self.location,
                type(error).__name__,
                error,
            )
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = self.retry_min
        while True:
            await asyncio.sleep(delay)
            try:
                await self.client().ping()  # type: ignore[misc]
                for callback in self._on_reconnect:
                    await callback()
            except self.errors:
                delay = min(delay * 2, self.retry_max)
                continue
            self._up = True
            log.info(
                "Redis at %s is reachable again after %.1fs; shared state resumed",
                self.location,
                time.monotonic() - self._down_since,
            )
            return

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            try:
                await self._probe
            except asyncio.CancelledError:
                pass
            self._probe = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _now_ms() -> str:
    return (
        "local t = redis.call('TIME')\n"
        "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    )


# KEYS: one hash per provider -> {failures, ms left of the rest} per provider
_GET = Script(
    _now_ms()
    + """
local out = {}
for _, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'failures', 'open_until')
  out[#out + 1] = tonumber(v[1]) or 0
  out[#out + 1] = math.max((tonumber(v[2]) or 0) - now, 0)
end
return out
"""
)

# ARGV: threshold, cooldown ms, Retry-After ms (0: none), ttl ms -> {failures, ms left}
# The rule of chatplug.health.after_failure, applied atomically.
_FAIL = Script(
    _now_ms()
    + """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local previous = tonumber(redis.call('HGET', KEYS[1], 'open_until')) or 0
local open = 0
if failures >= tonumber(ARGV[1]) then open = now + tonumber(ARGV[2]) end
local wait = tonumber(ARGV[3])
if wait > 0 and now + wait > open then open = now + wait end
if previous > now and previous > open then open = previous end
redis.call('HSET', KEYS[1], 'open_until', open)
local left = math.max(open - now, 0)
redis.call('PEXPIRE', KEYS[1], left + tonumber(ARGV[4]))
return {failures, left}
"""
)

# State recorded during an outage, merged in (the larger count, the later rest).
# ARGV: failures, ms left, ttl ms -> {failures, ms left}
_MERGE = Script(
    _now_ms()
    + """
local v = redis.call('HMGET', KEYS[1], 'failures', 'open_until')
local failures = math.max(tonumber(v[1]) or 0, tonumber(ARGV[1]))
local open = tonumber(v[2]) or 0
local left = tonumber(ARGV[2])
if left > 0 and now + left > open then open = now + left end
redis.call('HSET', KEYS[1], 'failures', failures, 'open_until', open)
left = math.max(open - now, 0)
redis.call('PEXPIRE', KEYS[1], left + tonumber(ARGV[3]))
return {failures, left}
"""
)


class RedisHealthStore:
    """Provider health shared through Redis (an :class:`~chatplug.health.AsyncHealthStore`).

    Keeps the state it last saw in the process (:meth:`peek`); during an outage that copy is
    the state, and what changed meanwhile is merged into Redis when it is back.
    """

    def __init__(
        self,
        backend: RedisBackend,
        *,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.ttl_ms = int(ttl * 1000)
        self._clock = clock
        self._local = MemoryHealthStore()
        self._dirty: Set[str] = set()
        backend.on_reconnect(self._resync)

    def key(self, provider: str) -> str:
        return self.backend.key("health", provider)

    def peek(self, provider: str) -> ProviderHealth:
        return self._local.get(provider)

    def _seen(self, provider: str, failures: int, left_ms: int) -> ProviderHealth:
        health = ProviderHealth(int(failures), self._clock() + left_ms / 1000 if left_ms else 0.0)
        self._local.set(provider, health if health.failures or health.open_until else HEALTHY)
        return health

    async def get_many(self, providers: Sequence[str]) -> Dict[str, ProviderHealth]:
        if not providers:
            return {}

        async def shared() -> Dict[str, ProviderHealth]:
            flat = await self.backend.eval(_GET, [self.key(p) for p in providers], ())
            return {
                name: self._seen(name, flat[2 * i], flat[2 * i + 1])
                for i, name in enumerate(providers)
            }

        return await self.backend.run(shared, lambda: {p: self.peek(p) for p in providers})

    async def record_failure(
        self, provider: str, threshold: int, cooldown: float, retry_after: Optional[float]
    ) -> ProviderHealth:
        async def shared() -> ProviderHealth:
            wait = int(retry_after * 1000) if retry_after else 0
            args = (threshold, int(cooldown * 1000), wait, self.ttl_ms)
            failures, left = await self.backend.eval(_FAIL, [self.key(provider)], args)
            return self._seen(provider, failures, left)

        def local() -> ProviderHealth:
            health = after_failure(
                self.peek(provider), self._clock(), threshold, cooldown, retry_after
            )
            self._local.set(provider, health)
            self._dirty.add(provider)
            return health

        return await self.backend.run(shared, local)

    async def record_success(self, provider: str) -> None:
        """Reset ``provider``; costs nothing when it was healthy when last seen."""
        if self.peek(provider) == HEALTHY:
            return
        self._local.set(provider, HEALTHY)
        self._dirty.discard(provider)

        async def shared() -> None:
            await self.backend.client().delete(self.key(provider))

        await self.backend.run(shared, lambda: None)

    async def _resync(self) -> None:
        """Push what this process recorded during the outage (raises if Redis fails again)."""
        while self._dirty:
            provider = self._dirty.pop()
            health = self.peek(provider)
            left = max(0, int((health.open_until - self._clock()) * 1000))
            try:
                failures, left = await self.backend.eval(
                    _MERGE, [self.key(provider)], (health.failures, left, self.ttl_ms)
                )
            except BaseException:
                self._dirty.add(provider)
                raise
            self._seen(provider, failures, left)
