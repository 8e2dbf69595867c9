"""Out of file descriptors: a burst of idle connections against a server limited to 32
descriptors.  Accept failures are reported once per burst (not once per attempt, with a
traceback each), idle connections are shed, and the server answers again after it."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, List

import pytest
from server_harness import ServerProcess, start_server_with

pytestmark = pytest.mark.timeout(90)

LIMIT = 32
#: seconds without an accept failure that end a burst (chatplug.server.connection)
ACCEPT_QUIET = 2.0
BURST = 300


def limited_server(env: Dict[str, str], limit: int) -> ServerProcess:
    """``chatplug serve`` with its soft ``RLIMIT_NOFILE`` set to ``limit``."""
    code = (
        "import resource, runpy, sys\n"
        "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, hard))\n"
        "sys.argv = ['chatplug', 'serve', '--port', '0']\n"
        "runpy.run_module('chatplug', run_name='__main__')\n"
    )
    return ServerProcess([sys.executable, "-c", code], env).wait_ready()


def health(url: str) -> int:
    with urllib.request.urlopen(url + "/health", timeout=2) as response:
        return int(response.status)


def test_a_connection_burst_beyond_the_descriptor_limit_is_logged_once_and_survived(
    faulty_env: Dict[str, str],
) -> None:
    server = limited_server(dict(faulty_env, CHATPLUG_SERVER_HEAD_TIMEOUT="1"), LIMIT)
    try:
        assert server.url is not None
        host, port = server.url.split("//")[1].rsplit(":", 1)
        before = len(server.lines)
        burst: List[socket.socket] = []
        for _ in range(BURST):
            sock = socket.socket()
            sock.setblocking(False)
            try:
                sock.connect((host, int(port)))
            except BlockingIOError:
                pass
            burst.append(sock)
        time.sleep(4)  # the server runs out of descriptors, sheds, retries
        for sock in burst:
            sock.close()
        deadline = time.monotonic() + 20
        answered = False
        while time.monotonic() < deadline and not answered:
            try:
                answered = health(server.url) == 200
            except OSError:
                time.sleep(0.2)
        assert answered
        server.wait_for_line("accept failures stopped", timeout=2 * ACCEPT_QUIET + 2)
        printed = server.lines[before:]
        accept_lines = [line for line in printed if "accept" in line]
        assert 2 <= len(accept_lines) <= 4
        assert accept_lines[0].startswith("cannot accept connections: [Errno 24]")
        summary = re.search(
            r"stopped: \d+ failed accepts .* (\d+) idle connection", accept_lines[-1]
        )
        assert summary is not None and int(summary.group(1)) >= 1  # shed to recover
        assert "Traceback" not in "\n".join(printed)
        assert sum(len(line) + 1 for line in printed) < 4000
        assert server.proc.poll() is None
    finally:
        server.stop()


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_the_listen_backlog_is_1024(faulty_env: Dict[str, str]) -> None:
    server = start_server_with(faulty_env)
    try:
        assert server.url is not None
        port = server.url.rsplit(":", 1)[1]
        listing = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout.split()
        assert listing[0] == "LISTEN"
        somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
        assert int(listing[2]) == min(1024, somaxconn)  # Send-Q of a listener: its backlog
    finally:
        server.stop()
