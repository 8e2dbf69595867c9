"""The server's Prometheus metrics: what is counted, the exposition, multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

from chatplug.health import ProviderHealth
from chatplug.server.metrics import OTHER, Metrics
from prometheus_client.parser import text_string_to_metric_families


def samples(metrics: Metrics) -> Dict[str, float]:
    """``name{label=value,...}`` -> value, from the rendered text."""
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return read(body.decode())


def read(text: str) -> Dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


def observe(metrics: Metrics, **overrides: Any) -> None:
    values: Dict[str, Any] = {
        "provider": "acme",
        "model": "m1",
        "key_name": "team",
        "duration": 1.5,
        "first_chunk": 0.2,
        "prompt_tokens": 12,
        "completion_tokens": 30,
    }
    values.update(overrides)
    metrics.observe(**values)


def test_requests_are_counted_by_provider_model_and_key_name() -> None:
    metrics = Metrics()
    observe(metrics)
    observe(metrics)
    observe(metrics, key_name="other")
    got = samples(metrics)
    assert got["chatplug_requests_total{key=team,model=m1,provider=acme}"] == 2
    assert got["chatplug_requests_total{key=other,model=m1,provider=acme}"] == 1


def test_errors_are_counted_by_type() -> None:
    metrics = Metrics()
    observe(metrics, error="UpstreamTimeoutError")
    observe(metrics)
    got = samples(metrics)
    errors = "chatplug_errors_total{error=UpstreamTimeoutError,key=team,model=m1,provider=acme}"
    assert got[errors] == 1
    assert got["chatplug_requests_total{key=team,model=m1,provider=acme}"] == 2


def test_tokens_are_counted_in_and_out() -> None:
    metrics = Metrics()
    observe(metrics)
    observe(metrics, prompt_tokens=8, completion_tokens=0)
    got = samples(metrics)
    assert got["chatplug_tokens_total{direction=in,key=team,model=m1,provider=acme}"] == 20
    assert got["chatplug_tokens_total{direction=out,key=team,model=m1,provider=acme}"] == 30


def test_first_chunk_and_duration_are_histograms() -> None:
    metrics = Metrics()
    observe(metrics, first_chunk=0.2, duration=1.5)
    observe(metrics, first_chunk=None, duration=0.05, error="InvalidRequestError")
    got = samples(metrics)
    assert got["chatplug_first_chunk_seconds_count{model=m1,provider=acme}"] == 1
    assert got["chatplug_first_chunk_seconds_bucket{le=0.25,model=m1,provider=acme}"] == 1
    assert got["chatplug_first_chunk_seconds_bucket{le=0.1,model=m1,provider=acme}"] == 0
    assert got["chatplug_request_duration_seconds_count{model=m1,provider=acme}"] == 2
    assert got["chatplug_request_duration_seconds_sum{model=m1,provider=acme}"] == 1.55


def test_a_request_rejected_before_a_provider_is_labelled_with_dashes() -> None:
    metrics = Metrics()
    metrics.observe(provider=None, model=None, key_name=None, duration=0.001, error="rate_limited")
    got = samples(metrics)
    assert got["chatplug_errors_total{error=rate_limited,key=-,model=-,provider=-}"] == 1


def test_active_streams_counts_the_answers_being_sent() -> None:
    metrics = Metrics()
    with metrics.active_stream():
        with metrics.active_stream():
            assert samples(metrics)["chatplug_active_streams{}"] == 2
    assert samples(metrics)["chatplug_active_streams{}"] == 0


def test_breaker_state_is_exported_per_provider() -> None:
    metrics = Metrics()
    metrics.breaker("acme", ProviderHealth(3, 1_700_000_030.0))
    metrics.breaker("beta", ProviderHealth())
    got = samples(metrics)
    assert got["chatplug_breaker_failures{provider=acme}"] == 3
    assert got["chatplug_breaker_open_until_seconds{provider=acme}"] == 1_700_000_030.0
    assert got["chatplug_breaker_open_until_seconds{provider=beta}"] == 0


def test_models_past_the_cap_share_one_label_value() -> None:
    metrics = Metrics(max_models=2)
    for model in ("m1", "m2", "m3", "m4", "m1"):
        observe(metrics, model=model)
    models = {
        name.split("model=")[1].split(",")[0]
        for name in samples(metrics)
        if name.startswith("chatplug_requests_total")
    }
    assert models == {"m1", "m2", OTHER}


WORKER = textwrap.dedent(
    """
    import os
    from chatplug.server.metrics import Metrics
    metrics = Metrics()
    metrics.observe(provider="acme", model="m1", key_name="team", duration=1.0,
                    prompt_tokens=5, completion_tokens=7)
    streaming = metrics.active_stream()
    streaming.__enter__()
    print(os.getpid(), flush=True)
    os._exit(0)  # the worker dies while sending
    """
)
RENDER = textwrap.dedent(
    """
    import sys
    from chatplug.server.metrics import Metrics, mark_process_dead
    for pid in sys.argv[1:]:
        mark_process_dead(int(pid))
    sys.stdout.write(Metrics().render()[0].decode())
    """
)


def run(source: str, directory: Path, *args: str) -> str:
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    done = subprocess.run(
        [sys.executable, "-c", source, *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_multiprocess_mode_adds_up_every_worker(tmp_path: Path) -> None:
    pids = [run(WORKER, tmp_path).strip() for _ in range(2)]
    got = read(run(RENDER, tmp_path))
    assert got["chatplug_requests_total{key=team,model=m1,provider=acme}"] == 2
    assert got["chatplug_tokens_total{direction=out,key=team,model=m1,provider=acme}"] == 14
    assert got["chatplug_request_duration_seconds_count{model=m1,provider=acme}"] == 2
    assert got["chatplug_active_streams{}"] == 2
    got = read(run(RENDER, tmp_path, pids[0]))  # a worker exited: its live gauge goes
    assert got["chatplug_active_streams{}"] == 1
    assert got["chatplug_requests_total{key=team,model=m1,provider=acme}"] == 2
