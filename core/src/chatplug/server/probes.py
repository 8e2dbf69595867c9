"""Probes and metrics: ``GET /health/live``, ``GET /health/ready`` and ``GET /metrics``.

- ``/health/live``: the process answers (``200``), whatever Redis or the upstreams do, so
  that an orchestrator never restarts a process for someone else's outage;
- ``/health/ready``: ``200`` once the plugins are loaded (at least one provider) and, when
  Redis is configured, Redis answers; ``503`` otherwise, with the failing check named;
- ``/metrics``: the Prometheus text exposition (every worker's values in multiprocess
  mode), with the breaker state of every provider read just before.

None of them needs the API key (they are not under ``/v1``); ``/health`` is unchanged.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List

from aiohttp import web

from ..registry import LOADED, Registry
from .state import STATE

if TYPE_CHECKING:  # pragma: no cover
    from .operations import Operations


class Probes:
    """The three handlers, over one app's :class:`~.operations.Operations`."""

    def __init__(self, operations: "Operations") -> None:
        self.operations = operations

    async def live(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pid": os.getpid()})

    async def ready(self, request: web.Request) -> web.Response:
        client = request.app[STATE].client
        loaded = _loaded(client.registry) if client is not None else []
        checks: Dict[str, Any] = {"plugins": {"ok": bool(loaded), "loaded": len(loaded)}}
        ok = bool(loaded)
        backend = self.operations.backend
        if backend is not None:
            reachable = await backend.ping()
            checks["redis"] = {"ok": reachable, "url": backend.location}
            ok = ok and reachable
        body = {"status": "ready" if ok else "unready", "checks": checks, "pid": os.getpid()}
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        metrics = self.operations.metrics
        client = request.app[STATE].client
        if client is not None:
            for name, health in (await client.breaker.ahealth(_loaded(client.registry))).items():
                metrics.breaker(name, health)
        body, content_type = metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})


def _loaded(registry: Registry) -> List[str]:
    return [info.name for info in registry.plugins() if info.status == LOADED]
