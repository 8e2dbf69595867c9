"""Several server processes on one port (``chatplug serve --workers N``).

With gunicorn installed, :func:`run_workers` runs the app under gunicorn's aiohttp worker
(its master restarts a worker that dies and stops them gracefully).  Without it, on Linux
and the BSDs, it forks N worker processes that each listen on the same port with
``SO_REUSEPORT`` (the kernel spreads new connections over them); the parent restarts a
worker that dies, and on SIGTERM/SIGINT tells every worker to stop, which lets its running
requests finish for ``grace`` seconds.  Each worker has its own client, connection pool and
circuit breaker, as with gunicorn.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from .heap import settle_after_startup
from .runner import run, stop_signals

if TYPE_CHECKING:  # pragma: no cover
    import multiprocessing.queues

    from aiohttp import web

AppFactory = Callable[[], "web.Application"]
#: seconds to wait for the workers to listen
STARTUP = 60.0
#: a worker that dies within this many seconds of its start is not restarted again at once
RESTART_DELAY = 1.0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def gunicorn_installed() -> bool:
    return importlib.util.find_spec("gunicorn") is not None


def run_workers(
    make_app: AppFactory,
    workers: int,
    host: str,
    port: int,
    grace: float,
    *,
    loop: str = "asyncio",
    use_gunicorn: Optional[bool] = None,
) -> None:
    """Serve ``make_app()`` (called in each worker) from ``workers`` processes on one port
    until SIGTERM/SIGINT.  ``use_gunicorn``: ``None`` uses gunicorn when installed."""
    if use_gunicorn is None:
        use_gunicorn = gunicorn_installed()
    if use_gunicorn:
        _run_gunicorn(make_app, workers, host, port, grace, loop)
    else:
        _run_reuse_port(make_app, workers, host, port, grace, loop)


# gunicorn ------------------------------------------------------------------------


def _run_gunicorn(
    make_app: AppFactory, workers: int, host: str, port: int, grace: float, loop: str
) -> None:
    base: Any = importlib.import_module("gunicorn.app.base")

    worker_class = "aiohttp.GunicornWebWorker"
    if loop in ("uvloop", "auto") and _uvloop_installed():
        worker_class = "aiohttp.GunicornUVLoopWebWorker"
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def announce(server: Any) -> None:
        for listener in server.LISTENERS:
            _say(f"chatplug serve: listening on http://{_address(listener.sock)} "
                 f"({workers} gunicorn workers)")  # fmt: skip

    from .connection import BACKLOG, CUT_WAIT, ChatplugRunner

    options: Dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "worker_class": worker_class,
        # the worker's own runner cuts what runs after ``grace`` s; gunicorn (whole seconds)
        # only kills a worker that is still there after that
        "graceful_timeout": math.ceil(grace + CUT_WAIT),
        "backlog": BACKLOG,
        "accesslog": None,
        "when_ready": announce,
        "control_socket_disable": True,  # gunicorn >= 25: no control socket in $HOME
    }

    class Application(base.BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # an older gunicorn lacks newer settings
                    self.cfg.set(key, value)

        def load(self) -> Any:
            app = settle_after_startup(make_app())

            async def runner() -> ChatplugRunner:  # the connection layer of chatplug serve
                return ChatplugRunner(app, grace=grace)

            return runner

    Application().run()


def _uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def _address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# SO_REUSEPORT processes ----------------------------------------------------------


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) with SO_REUSEPORT, not listening: it holds the port
    (a free one when ``port`` is 0) for the workers, and receives no connection."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("SO_REUSEPORT is not available here: install gunicorn for --workers")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host.strip("[]"), port))
    return sock


def _run_reuse_port(
    make_app: AppFactory, workers: int, host: str, port: int, grace: float, loop: str
) -> None:
    import multiprocessing

    context = multiprocessing.get_context("fork")
    reserved = _reserve(host, port)
    bound_port = reserved.getsockname()[1]
    ready: "multiprocessing.queues.Queue[int]" = context.Queue()
    children: Dict[int, Any] = {}
    started: Dict[int, float] = {}
    stopping = False

    def spawn(slot: int) -> None:
        process = context.Process(
            target=_worker,
            args=(make_app, host.strip("[]"), bound_port, grace, loop, ready),
            name=f"chatplug-serve-worker-{slot}",
        )
        process.start()
        children[slot] = process
        started[slot] = time.monotonic()

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for slot in range(workers):
            spawn(slot)
        deadline = time.monotonic() + STARTUP
        for _ in range(workers):
            ready.get(timeout=max(0.1, deadline - time.monotonic()))
        _say(f"chatplug serve: listening on http://{_address(reserved)} "
             f"({workers} worker processes, SO_REUSEPORT)")  # fmt: skip
        while not stopping:
            time.sleep(0.2)
            for slot, process in list(children.items()):
                if process.is_alive() or stopping:
                    continue
                _say(f"chatplug serve: worker {process.pid} exited ({process.exitcode}); "
                     "starting another")  # fmt: skip
                if time.monotonic() - started[slot] < RESTART_DELAY:
                    time.sleep(RESTART_DELAY)
                spawn(slot)
        _say(f"chatplug serve: shutting down (grace {grace:g}s)")
    finally:
        for process in children.values():
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in children.values():
            process.join(grace + 10)
            if process.is_alive():  # pragma: no cover - a stuck worker
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reserved.close()


def _worker(
    make_app: AppFactory,
    host: str,
    port: int,
    grace: float,
    loop: str,
    ready: "multiprocessing.queues.Queue[int]",
) -> None:
    """One worker process: serve ``make_app()`` on the shared port until SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    main = _serve_worker(settle_after_startup(make_app()), host, port, grace, ready)
    run(main, "asyncio" if loop == "asyncio" else "auto")  # uvloop when it is installed


async def _serve_worker(
    app: "web.Application",
    host: str,
    port: int,
    grace: float,
    ready: "multiprocessing.queues.Queue[int]",
) -> None:
    from aiohttp import web

    from .connection import BACKLOG, ChatplugRunner

    runner = ChatplugRunner(app, grace=grace)
    await runner.setup()
    with stop_signals(signal.SIGTERM) as stop:  # a second SIGTERM leaves the grace alone
        try:
            await web.TCPSite(runner, host, port, backlog=BACKLOG, reuse_port=True).start()
            ready.put(os.getpid())
            await stop.wait()
        finally:
            await runner.cleanup()
