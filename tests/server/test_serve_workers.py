"""Several server processes on one port: ``chatplug serve --workers N`` (gunicorn) and the
SO_REUSEPORT processes used without gunicorn (subprocesses)."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import urllib.request
from typing import Dict, List, Optional, Set

import pytest
from chatplug.emulation import RunningEmulator
from server_harness import LISTENING, ServerProcess, serve_args

REUSE_PORT_SERVER = """
import sys
from chatplug.server import create_app
from chatplug.server.workers import run_workers

def make_app():
    return create_app(api_key="", base_urls={"servertest": sys.argv[1]}, retries=0)

run_workers(make_app, 2, "127.0.0.1", 0, 10.0, use_gunicorn=False)
"""


def health_pid(url: str) -> int:
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:  # a new connection
        return int(json.load(response)["pid"])


def pids_answering(url: str, tries: int = 100) -> Set[int]:
    """The worker pids that answered ``tries`` requests on new connections (fewer once two
    answered); idle workers race for each new connection."""
    seen: Set[int] = set()
    for _ in range(tries):
        seen.add(health_pid(url))
        if len(seen) > 1:
            break
        time.sleep(0.01)
    return seen


def complete(url: str, prompt: str, out: Dict[str, Optional[str]]) -> None:
    body = {"model": "servertest/echo", "messages": [{"role": "user", "content": prompt}]}
    request = urllib.request.Request(
        f"{url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            out["text"] = json.load(response)["choices"][0]["message"]["content"]
    except Exception as error:  # reported by the test
        out["error"] = repr(error)


@pytest.fixture(params=["gunicorn", "reuse-port"])
def workers(
    request: pytest.FixtureRequest, plugin_env: Dict[str, str], upstream: RunningEmulator
) -> ServerProcess:
    if request.param == "gunicorn":
        pytest.importorskip("gunicorn")
        args: List[str] = serve_args(
            "--port", "0", "--workers", "2", "--retries", "0",
            "--base-url", f"servertest={upstream.url}",
        )  # fmt: skip
    else:
        args = [sys.executable, "-c", REUSE_PORT_SERVER, upstream.url]
    process = ServerProcess(args, plugin_env, LISTENING).wait_ready()
    request.addfinalizer(process.stop)
    if request.param == "gunicorn":  # its banner comes before the workers boot
        deadline = time.monotonic() + 30
        while sum("Booting worker" in line for line in process.lines) < 2:
            assert time.monotonic() < deadline, "\n".join(process.lines)
            time.sleep(0.05)
    return process


def test_two_worker_processes_answer_on_one_port(workers: ServerProcess) -> None:
    assert workers.url is not None
    assert len(pids_answering(workers.url)) == 2


def test_sigterm_lets_running_requests_finish_then_exits_cleanly(
    workers: ServerProcess,
) -> None:
    assert workers.url is not None
    out: Dict[str, Optional[str]] = {}
    thread = threading.Thread(target=complete, args=(workers.url, "count:10:0.1", out))
    thread.start()
    time.sleep(0.4)  # the request is being answered
    assert workers.stop(signal.SIGTERM) == 0
    thread.join(30)
    assert out.get("text") == "".join(f"{i} " for i in range(10)), out
