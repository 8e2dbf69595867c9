"""A private ``redis-server`` on 127.0.0.1 for tests and benchmarks.

``RedisServer()`` picks a free port; ``start()`` runs ``redis-server`` without persistence
(``--save '' --appendonly no``) and waits until it answers; ``stop()`` ends it (its data is
gone); ``start()`` again restarts it on the same port.  Use it as a context manager::

    with RedisServer() as server:
        backend = RedisBackend(server.url)

``available()`` tells whether a ``redis-server`` executable is installed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from typing import Optional


def available() -> bool:
    return shutil.which("redis-server") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:port``."""

    def __init__(self, port: Optional[int] = None, executable: str = "redis-server") -> None:
        self.port = port or free_port()
        self.executable = executable
        self.process: Optional["subprocess.Popen[bytes]"] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            raise RuntimeError("the Redis server is already running")
        command = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--protected-mode", "no"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"redis-server exited at start (port {self.port} in use?)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer within {timeout}s")
            time.sleep(0.01)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """End the server (SIGKILL: like a crash, nothing is written)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            self.resume()  # a stopped process ignores nothing but SIGKILL; be tidy anyway
        self.stop()
