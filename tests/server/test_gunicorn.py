"""Multi-core: gunicorn with aiohttp.GunicornWebWorker serving ``create_app()``."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List

import aiohttp
import openai
import pytest
from chatplug.emulation import RunningEmulator
from server_harness import ServerProcess, wait_upstream_closed

pytest.importorskip("gunicorn")

GUNICORN_LISTENING = re.compile(r"Listening at: (http://\S+)")


def gunicorn_args() -> List[str]:
    executable = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    command = [executable] if executable else [sys.executable, "-m", "gunicorn"]
    args = [
        *command,
        "chatplug.server:create_app()",
        "--worker-class",
        "aiohttp.GunicornWebWorker",
        "-w",
        "2",
        "-b",
        "127.0.0.1:0",
        "--graceful-timeout",
        "10",
    ]
    help_text = subprocess.run([*command, "--help"], capture_output=True, text=True).stdout
    if "--no-control-socket" in help_text:  # gunicorn >= 24: no shared control socket
        args.append("--no-control-socket")
    return args


class Gunicorn(ServerProcess):
    def __init__(self, env: Dict[str, str]) -> None:
        super().__init__(gunicorn_args(), env, ready=GUNICORN_LISTENING)

    def wait_ready(self, timeout: float = 60.0) -> "Gunicorn":
        """Until the master listens and both workers answer /health."""
        super().wait_ready(timeout)
        assert self.url is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum("Booting worker" in line for line in self.lines) >= 2:
                try:
                    with urllib.request.urlopen(self.url + "/health", timeout=5) as response:
                        if response.status == 200:
                            return self
                except OSError:
                    pass
            time.sleep(0.1)
        raise AssertionError("gunicorn did not become ready:\n" + "\n".join(self.lines))


@pytest.fixture(scope="module")
def gunicorn(plugin_env: Dict[str, str], upstream: RunningEmulator) -> Iterator[Gunicorn]:
    env = dict(plugin_env, CHATPLUG_SERVERTEST_BASE_URL=upstream.url)
    server = Gunicorn(env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_gunicorn_runs_two_workers(gunicorn: Gunicorn) -> None:
    assert sum("Booting worker" in line for line in gunicorn.lines) == 2


def test_gunicorn_serves_the_openai_sdk_streaming_and_not(gunicorn: Gunicorn) -> None:
    messages = [{"role": "user", "content": "hi"}]
    with openai.OpenAI(base_url=f"{gunicorn.url}/v1", api_key="x", max_retries=0) as client:
        completion = client.chat.completions.create(model="servertest/echo", messages=messages)
        chunks = list(
            client.chat.completions.create(model="servertest/echo", messages=messages, stream=True)
        )
    reply = "Hello from echo: hi — ünïcødé ✓"
    assert completion.choices[0].message.content == reply
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == reply


async def test_gunicorn_serves_concurrent_streams(gunicorn: Gunicorn) -> None:
    body = {
        "model": "servertest/echo",
        "messages": [{"role": "user", "content": "count:5:0.05"}],
        "stream": True,
    }

    async def one(session: aiohttp.ClientSession) -> bytes:
        async with session.post(f"{gunicorn.url}/v1/chat/completions", json=body) as response:
            assert response.status == 200
            return await response.read()

    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        bodies = await asyncio.gather(*[one(session) for _ in range(20)])
    assert all(body.endswith(b"data: [DONE]\n\n") for body in bodies)


async def test_gunicorn_worker_cancels_the_upstream_when_the_client_leaves(
    gunicorn: Gunicorn, upstream: RunningEmulator
) -> None:
    token = "gunicorn-disconnect"
    body = {
        "model": "servertest/echo",
        "messages": [{"role": "user", "content": f"forever:{token}"}],
        "stream": False,
    }
    async with aiohttp.ClientSession() as session:
        request = asyncio.ensure_future(
            session.post(f"{gunicorn.url}/v1/chat/completions", json=body)
        )
        await asyncio.sleep(0.5)
        request.cancel()
        try:
            await request
        except asyncio.CancelledError:
            pass
    await wait_upstream_closed(upstream, token)


def test_gunicorn_stops_cleanly_on_sigterm(
    plugin_env: Dict[str, str], upstream: RunningEmulator
) -> None:
    server = Gunicorn(dict(plugin_env, CHATPLUG_SERVERTEST_BASE_URL=upstream.url))
    server.wait_ready()
    assert server.stop() == 0


def test_gunicorn_workers_write_the_access_log(gunicorn: Gunicorn) -> None:
    with urllib.request.urlopen(f"{gunicorn.url}/v1/models?probe=access", timeout=10) as reply:
        assert reply.status == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any('"path": "/v1/models"' in line for line in gunicorn.lines):
            return
        time.sleep(0.05)
    raise AssertionError("no access-log line:\n" + "\n".join(gunicorn.lines))


async def test_gunicorn_workers_metrics_are_summed_in_multiprocess_mode(
    plugin_env: Dict[str, str], upstream: RunningEmulator, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = dict(
        plugin_env,
        CHATPLUG_SERVERTEST_BASE_URL=upstream.url,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    server = Gunicorn(env)
    server.wait_ready()
    body = {"model": "servertest/echo", "messages": [{"role": "user", "content": "hi"}]}
    sent = 0
    try:
        connector = aiohttp.TCPConnector(force_close=True)  # a new connection each: any worker
        async with aiohttp.ClientSession(connector=connector) as session:
            while len(list(metrics_dir.glob("counter_*.db"))) < 2:  # until both workers served
                assert sent < 400, "one worker took every request"
                responses = await asyncio.gather(
                    *[
                        session.post(f"{server.url}/v1/chat/completions", json=body)
                        for _ in range(20)
                    ]
                )
                for response in responses:
                    assert response.status == 200
                    response.release()
                sent += len(responses)
            scrapes = []
            for _ in range(4):  # whichever worker answers, it counts every worker's requests
                async with session.get(f"{server.url}/metrics") as response:
                    scrapes.append(await response.text())
    finally:
        server.stop()
    line = f'chatplug_requests_total{{key="-",model="echo",provider="servertest"}} {sent:.1f}'
    assert all(line in text for text in scrapes)
