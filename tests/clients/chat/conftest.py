"""Real clients against ``chatplug serve`` (a subprocess) in front of chatplug-openai and
its emulator (a thread of the test process, so that tests can read what it received).

The JavaScript clients live in ``tests/clients/js/`` (package.json, lock file); the session runs
``npm install`` there once (``node_modules`` is kept between sessions) and skips those
tests, saying why, only when node or npm is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
from chatplug.emulation import EmulatorThread, RunningEmulator

HERE = Path(__file__).parent
JS = HERE.parent / "js"
HARNESS = HERE.parent.parent / "server" / "fakeplugin"
for folder in (HERE, HARNESS):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from server_harness import ServerProcess, start_server_with  # noqa: E402
from targets import MODEL, PROVIDERS, TEXT_MODEL  # noqa: E402


@pytest.fixture(scope="session")
def emulator() -> Iterator[RunningEmulator]:
    """chatplug-openai's emulator (any key accepted)."""
    from chatplug_openai.emulator import create_app

    with EmulatorThread(create_app()) as running:
        yield running


@pytest.fixture(scope="session")
def serve(emulator: RunningEmulator) -> Iterator[ServerProcess]:
    """``chatplug serve`` routing ``openai`` to the emulator."""
    env = dict(os.environ, CHATPLUG_PLUGINS=PROVIDERS, CHATPLUG_CONFIG="", PYTHONUNBUFFERED="1")
    for name in ("CHATPLUG_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    process = start_server_with(env, "--base-url", f"openai={emulator.url}", "--retries", "0")
    yield process
    process.stop()


@pytest.fixture
def base_url(serve: ServerProcess) -> str:
    """The OpenAI base URL of the server (``.../v1``)."""
    return f"{serve.url}/v1"


@pytest.fixture
def upstream_requests(emulator: RunningEmulator) -> List[Dict[str, Any]]:
    """The request log of chatplug-openai's emulator, emptied for the test."""
    from chatplug_openai.emulator import REQUESTS

    log: List[Dict[str, Any]] = emulator.app[REQUESTS]
    log.clear()
    return log


@pytest.fixture(scope="session")
def node() -> str:
    """``node`` with the JavaScript clients installed in ``js/node_modules``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed: the JavaScript clients are not tested")
    stamp = JS / "node_modules" / ".package-lock.json"
    lock = JS / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci failed in {JS}:\n{result.stdout}\n{result.stderr}")
    return node


@pytest.fixture
def run_js(node: str, base_url: str) -> Callable[[str, str], Dict[str, Any]]:
    """``run_js(script, scenario)``: run ``js/<script> <scenario>`` against the server; the
    JSON line it prints."""

    def run(script: str, scenario: str) -> Dict[str, Any]:
        result = subprocess.run(
            [node, str(JS / script), scenario],
            env=dict(os.environ, CHATPLUG_URL=base_url, MODEL=MODEL, TEXT_MODEL=TEXT_MODEL),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{script} {scenario} failed:\n{result.stderr}"
        return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    return run
