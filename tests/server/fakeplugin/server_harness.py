"""Test harness for the server tests: the server as a subprocess (imported by tests)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import chatplug_servertest
from chatplug.emulation import RunningEmulator
from chatplug.testing import write_distribution

STARTUP_TIMEOUT = 60.0
HERE = Path(__file__).parent
PROVIDERS = "servertest,servertwo"


def write_dist_info(root: Path) -> Path:
    """A minimal installed-distribution record registering the scripted providers."""
    providers = {"servertest": "chatplug_servertest", "servertwo": "chatplug_servertest:second"}
    write_distribution(root, "chatplug-servertest", {"chatplug.providers": providers})
    return root


def plugin_environment(root: Path) -> Dict[str, str]:
    """Environment for a server subprocess that loads only the scripted providers (their
    distribution record is written into ``root``), without a configuration file or key."""
    write_dist_info(root)
    env = dict(os.environ)
    paths = [str(HERE), str(root)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["CHATPLUG_PLUGINS"] = PROVIDERS
    env.pop("CHATPLUG_API_KEY", None)
    env["CHATPLUG_CONFIG"] = ""  # no configuration file: hermetic
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LISTENING = re.compile(r"listening on (http://\S+)")


class ServerProcess:
    """A server running as a subprocess; ``lines`` collects its stderr, and the first line
    matching ``ready`` gives ``url`` (``chatplug serve``'s banner by default)."""

    def __init__(
        self, args: Sequence[str], env: Dict[str, str], ready: "re.Pattern[str]" = LISTENING
    ) -> None:
        self.args = list(args)
        self._pattern = ready
        self.proc = subprocess.Popen(
            self.args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: List[str] = []
        self.url: Optional[str] = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            found = self._pattern.search(line)
            if found and self.url is None:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> "ServerProcess":
        self._ready.wait(timeout)
        if self.url is None:
            self.stop()
            raise AssertionError("the server did not start:\n" + "\n".join(self.lines))
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode

    def wait_for_line(self, needle: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if needle in line:
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no stderr line contains {needle!r}:\n" + "\n".join(self.lines))


def serve_args(*extra: str) -> List[str]:
    """The command line of ``chatplug serve`` with ``extra`` options."""
    return [sys.executable, "-m", "chatplug", "serve", *extra]


def start_server_with(env: Dict[str, str], *extra: str) -> ServerProcess:
    """``chatplug serve --port 0 <extra>``, started and ready."""
    return ServerProcess(serve_args("--port", "0", *extra), env).wait_ready()


def start_server(env: Dict[str, str], upstream: RunningEmulator, *extra: str) -> ServerProcess:
    """The server with both scripted providers pointed at ``upstream``."""
    return start_server_with(
        env,
        "--base-url",
        f"servertest={upstream.url}",
        "--base-url",
        f"servertwo={upstream.url}",
        *extra,
    )


def access_entries(server: ServerProcess) -> List[Dict[str, Any]]:
    """The JSON access-log lines the server printed so far."""
    entries = []
    for line in list(server.lines):
        if line.startswith("{"):
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries


def wait_for_entry(
    server: ServerProcess, predicate: Callable[[Dict[str, Any]], bool], timeout: float = 10.0
) -> Dict[str, Any]:
    """The first access-log entry matching ``predicate`` (waiting for it to be printed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in access_entries(server):
            if predicate(entry):
                return entry
        time.sleep(0.02)
    raise AssertionError("no matching access-log entry:\n" + "\n".join(server.lines))


async def wait_upstream_closed(
    upstream: RunningEmulator, token: str, timeout: float = 5.0
) -> float:
    """Seconds until the scripted upstream saw its ``forever:<token>`` connection closed."""
    closed = upstream.app[chatplug_servertest.CLOSED]
    started = time.monotonic()
    while token not in closed:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"the upstream still streams {token!r} after {timeout}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started
