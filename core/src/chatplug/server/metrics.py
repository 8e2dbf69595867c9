"""The server's Prometheus metrics (prometheus-client), and their text exposition.

One :class:`Metrics` per process.  Labels carry the provider, the model, the API key's
**name** (never the key: the methods take a name) and the error type.  Under several worker
processes (gunicorn, ``--workers``) set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
before the processes start: each one writes its values there and :meth:`Metrics.render`, in
whichever worker answers ``/metrics``, adds them up (``multiprocess_mode`` of each gauge
below says how); call :func:`mark_process_dead` when a worker exits.

=============================================  ==========================================
``chatplug_requests_total``                    requests, by provider, model, key
``chatplug_errors_total``                      failed requests, by ..., key, error code
``chatplug_tokens_total``                      tokens, by ..., key, ``direction`` in/out
``chatplug_first_chunk_seconds``               time to the first chunk, by provider, model
``chatplug_request_duration_seconds``          whole request, by provider, model
``chatplug_active_streams``                    answers being sent now (summed)
``chatplug_breaker_failures``                  consecutive failures, by provider (max)
``chatplug_breaker_open_until_seconds``        Unix time a provider's rest ends (max;
                                               resting while ``> time()``, 0 = closed)
=============================================  ==========================================
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional, Set, Tuple

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from ..health import ProviderHealth

NONE = "-"  # the label value for "not known" (no provider chosen yet, no key)
OTHER = "other"  # models past ``max_models`` (an unbounded label would exhaust memory)
FIRST_CHUNK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_MULTIPROC_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


def multiprocess_mode() -> bool:
    """Whether values go to ``PROMETHEUS_MULTIPROC_DIR`` (read when prometheus-client loads)."""
    return any(os.environ.get(variable) for variable in _MULTIPROC_VARIABLES)


def mark_process_dead(pid: int) -> None:
    """Forget the live gauges of an exited worker (e.g. in gunicorn's ``child_exit``)."""
    if multiprocess_mode():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Metrics:
    """The server's metrics, in a registry of their own (``registry``, or a new one)."""

    def __init__(self, registry: Optional[CollectorRegistry] = None, max_models: int = 200) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.max_models = max_models
        self._models: Set[str] = set()
        request = ("provider", "model", "key")
        timing = ("provider", "model")
        r = self.registry
        self.requests = Counter(
            "chatplug_requests", "Chat completion requests.", request, registry=r
        )
        self.errors = Counter(
            "chatplug_errors", "Failed requests, by error type.", (*request, "error"), registry=r
        )
        self.tokens = Counter(
            "chatplug_tokens",
            "Tokens in (prompt) and out (completion), as reported or estimated.",
            (*request, "direction"),
            registry=r,
        )
        self.first_chunk = Histogram(
            "chatplug_first_chunk_seconds",
            "Seconds from the request to the first chunk of the answer.",
            timing,
            buckets=FIRST_CHUNK_BUCKETS,
            registry=r,
        )
        self.duration = Histogram(
            "chatplug_request_duration_seconds",
            "Seconds from the request to the end of the answer.",
            timing,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.active = Gauge(
            "chatplug_active_streams",
            "Answers being sent now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.breaker_failures = Gauge(
            "chatplug_breaker_failures",
            "Consecutive failures of a provider (its circuit breaker's count).",
            ("provider",),
            registry=r,
            multiprocess_mode="livemax",
        )
        self.breaker_open_until = Gauge(
            "chatplug_breaker_open_until_seconds",
            "Unix time a provider's rest ends: resting while greater than time(); 0 = closed.",
            ("provider",),
            registry=r,
            multiprocess_mode="livemax",
        )

    def _model(self, model: Optional[str]) -> str:
        if not model:
            return NONE
        if model in self._models:
            return model
        if len(self._models) >= self.max_models:
            return OTHER
        self._models.add(model)
        return model

    def observe(
        self,
        *,
        provider: Optional[str],
        model: Optional[str],
        key_name: Optional[str],
        duration: float,
        first_chunk: Optional[float] = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        error: Optional[str] = None,
    ) -> None:
        """One finished request (``error``: its code, e.g. ``"upstream_timeout_first_byte"``)."""
        labels = (provider or NONE, self._model(model), key_name or NONE)
        self.requests.labels(*labels).inc()
        if error:
            self.errors.labels(*labels, error).inc()
        if prompt_tokens:
            self.tokens.labels(*labels, "in").inc(prompt_tokens)
        if completion_tokens:
            self.tokens.labels(*labels, "out").inc(completion_tokens)
        timing = labels[:2]
        if first_chunk is not None:
            self.first_chunk.labels(*timing).observe(first_chunk)
        self.duration.labels(*timing).observe(duration)

    @contextmanager
    def active_stream(self) -> Iterator[None]:
        """Count an answer being sent for the duration of the ``with`` block."""
        self.active.inc()
        try:
            yield
        finally:
            self.active.dec()

    def breaker(self, provider: str, health: ProviderHealth) -> None:
        """The breaker state of ``provider`` as last seen (after each update)."""
        self.breaker_failures.labels(provider).set(health.failures)
        self.breaker_open_until.labels(provider).set(health.open_until)

    def render(self) -> Tuple[bytes, str]:
        """The text exposition and its content type (every worker's values in
        multiprocess mode)."""
        if multiprocess_mode():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
