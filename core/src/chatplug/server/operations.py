"""What running the server for many users needs: shared state, named keys and their limits,
metrics, probes and the conversation log, wired into an app by :func:`install`.

:class:`OperationsSettings` says what to run with (``chatplug serve --redis URL --log-db
PATH``, else ``CHATPLUG_REDIS_URL`` and ``CHATPLUG_SERVER_LOG_DB``, else the ``[server]`` table
of ``chatplug.toml``); :class:`Operations` is what one app (one process) runs with: the key
ring, the rate limiter, the Redis connection, the metrics and the log recorder.  The request
path is :mod:`.keys` (who is asking, may they) and :mod:`.observe` (what was served);
:mod:`.probes` answers ``/health/live``, ``/health/ready`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Coroutine, Mapping, Optional, Set, Tuple

from aiohttp import web

from ..config import load_config
from ..config.server import ServerKey, check_redis_url
from ..health import CircuitBreaker
from .limits import KeyRing, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from .metrics import Metrics
from .probes import Probes
from .state import SETTINGS, STATE

if TYPE_CHECKING:  # pragma: no cover
    from ..history import Recorder
    from ..redis_store import RedisBackend

ENV_REDIS_URL = "CHATPLUG_REDIS_URL"
ENV_LOG_DB = "CHATPLUG_SERVER_LOG_DB"

log = logging.getLogger("chatplug.server")


@dataclass(frozen=True)
class OperationsSettings:
    """The Redis URL (``None``: per-process state), the named keys and the log database
    (``None``: nothing logged); ``redis_source`` says where the URL came from."""

    redis_url: Optional[str] = None
    keys: Tuple[ServerKey, ...] = ()
    log_db: Optional[str] = None
    redis_source: str = "default"

    @classmethod
    def resolve(
        cls,
        *,
        redis_url: Optional[str] = None,
        log_db: Optional[str] = None,
        environ: Optional[Mapping[str, str]] = None,
        config: Any = None,
    ) -> "OperationsSettings":
        """Arguments (the command line's flags) beat the environment, which beats the
        file's ``[server]`` table (``config``: a :class:`~chatplug.config.Config`, default
        the configuration file)."""
        env = os.environ if environ is None else environ
        server = (config if config is not None else load_config()).server
        url, source = redis_url, "--redis"
        if not url:
            url, source = env.get(ENV_REDIS_URL, "").strip() or None, ENV_REDIS_URL
        if not url:
            url, source = server.redis_url, "[server] redis_url"
        if url:
            check_redis_url(url, source)
        return cls(
            redis_url=url or None,
            keys=server.keys,
            log_db=log_db or env.get(ENV_LOG_DB, "").strip() or None,
            redis_source=source if url else "default",
        )


def check_settings(
    settings: OperationsSettings, environ: Optional[Mapping[str, str]] = None
) -> None:
    """Raise the :class:`~chatplug.ConfigError` that building the app would: a key whose
    variable is not set, a Redis URL without the ``redis`` package.  (``chatplug serve
    --workers`` checks in the parent, before any worker starts.)"""
    KeyRing.from_server(settings.keys, environ)
    if settings.redis_url:
        from ..redis_store import RedisBackend

        RedisBackend(settings.redis_url)  # nothing connects before the first operation


class Operations:
    """One app's shared state, keys, limiter, metrics and log (see the module's docs).

    Built when the app is (a missing key variable or a bad URL fails then, before
    listening); nothing connects to Redis or opens the log database before the first
    request that needs it.
    """

    def __init__(
        self,
        settings: OperationsSettings,
        api_key: Optional[str] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.settings = settings
        self.ring = KeyRing.from_server(settings.keys, environ)
        #: the unnamed key of ``--api-key`` / ``CHATPLUG_API_KEY`` (no limits)
        self.api_key = api_key
        self.backend: Optional[RedisBackend] = None
        self.limiter: RateLimiter
        if settings.redis_url:
            from ..redis_store import RedisBackend

            self.backend = RedisBackend(settings.redis_url)
            self.limiter = RedisRateLimiter(self.backend, self.ring.keys)
        else:
            self.limiter = MemoryRateLimiter(self.ring.keys)
        self.limits = {key.name: key for key in self.ring.keys if key.limited}
        self.metrics = Metrics()
        self.recorder: Optional[Recorder] = None
        if settings.log_db:
            from ..history import Recorder

            self.recorder = Recorder(settings.log_db, source="serve")
        self._pending: Set["asyncio.Task[Any]"] = set()

    @property
    def authenticates(self) -> bool:
        """Whether ``/v1`` requests need a key."""
        return self.api_key is not None or len(self.ring) > 0

    def shared_breaker(self, current: CircuitBreaker) -> CircuitBreaker:
        """A breaker with ``current``'s policy whose state lives in Redis."""
        from ..redis_store import RedisHealthStore

        assert self.backend is not None
        return CircuitBreaker(
            threshold=current.threshold,
            cooldown=current.cooldown,
            store=RedisHealthStore(self.backend),
        )

    def later(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` after the response, without delaying it (awaited at shutdown)."""
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: "asyncio.Task[Any]") -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.warning("after a request: %s: %s", type(error).__name__, error)

    async def drain(self) -> None:
        """Wait for the work :meth:`later` started (token counts, log rows)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()
        if self.recorder is not None:
            self.recorder.close()
        if self.backend is not None:
            await self.backend.aclose()


OPERATIONS = web.AppKey("chatplug.server.operations", Operations)


def install(app: web.Application, settings: Optional[OperationsSettings] = None) -> Operations:
    """Add the operations to ``app`` (settings: :meth:`OperationsSettings.resolve` by
    default): the probes' and the metrics' routes, and the shared breaker of the app's own
    client once it is open (a caller-owned client keeps its own breaker: give it one over
    :class:`~chatplug.redis_store.RedisHealthStore` to share it).  The key check and the
    accounting are :mod:`.keys`' middleware."""
    operations = Operations(
        settings if settings is not None else OperationsSettings.resolve(),
        app[SETTINGS].api_key,
    )
    app[OPERATIONS] = operations
    app.cleanup_ctx.append(_operations_context)
    probes = Probes(operations)
    app.router.add_get("/health/live", probes.live)
    app.router.add_get("/health/ready", probes.ready)
    app.router.add_get("/metrics", probes.metrics)
    return operations


async def _operations_context(app: web.Application) -> AsyncIterator[None]:
    operations, state = app[OPERATIONS], app[STATE]
    client = state.client
    if operations.backend is not None and client is not None and state.owns_client:
        client.breaker = operations.shared_breaker(client.breaker)
    try:
        yield
    finally:
        await operations.aclose()
