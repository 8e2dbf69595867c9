"""Running the server: the event loop (asyncio's or uvloop), listening, and the graceful
shutdown on SIGTERM/SIGINT (``chatplug serve`` is the command line over this)."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Iterator, List

if TYPE_CHECKING:  # pragma: no cover
    import asyncio

    from aiohttp import web

DEFAULT_GRACE = 30.0

Main = Coroutine[Any, Any, None]


def loop_runner(loop: str = "asyncio") -> Callable[[Main], None]:
    """How to run the server's coroutine: ``uvloop.run`` (``loop="uvloop"``, or ``"auto"``
    when uvloop is installed) or ``asyncio.run``.  ``ImportError`` for ``"uvloop"`` when
    uvloop is not installed."""
    import asyncio
    import importlib

    if loop != "asyncio":
        try:
            uvloop: Any = importlib.import_module("uvloop")
        except ImportError:
            if loop == "uvloop":
                raise ImportError("uvloop is not installed") from None
        else:
            if hasattr(uvloop, "run"):
                return uvloop.run  # type: ignore[no-any-return]

            def run_on_uvloop(main: Main) -> None:  # pragma: no cover - uvloop < 0.18
                asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
                asyncio.run(main)

            return run_on_uvloop
    return asyncio.run


def run(main: Main, loop: str = "asyncio") -> None:
    """Run ``main`` with :func:`loop_runner` ``(loop)`` (``main`` is closed if it cannot)."""
    try:
        runner = loop_runner(loop)
    except ImportError:
        main.close()
        raise
    runner(main)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def serve(app: "web.Application", host: str, port: int, grace: float) -> None:
    """Run ``app`` until SIGTERM/SIGINT, then let running requests finish for ``grace`` s
    (:class:`~chatplug.server.connection.ChatplugRunner`: ``0`` cuts them at once)."""
    from aiohttp import web

    from .connection import BACKLOG, ChatplugRunner

    runner = ChatplugRunner(app, grace=grace)
    await runner.setup()
    try:
        with stop_signals() as stop:
            site = web.TCPSite(runner, host, port, backlog=BACKLOG)
            await site.start()
            for address in runner.addresses:
                bound_host, bound_port = address[0], address[1]
                if ":" in bound_host:
                    bound_host = f"[{bound_host}]"
                _say(f"chatplug serve: listening on http://{bound_host}:{bound_port}")
            await stop.wait()
            _say(f"chatplug serve: shutting down (grace {grace:g}s)")
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def stop_signals(*signums: int) -> Iterator["asyncio.Event"]:
    """An event the running loop sets on ``signums`` (default: SIGTERM and SIGINT) while the
    block runs; the handlers are removed after it."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: List[int] = []
    for signum in signums or (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    try:
        yield stop
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


def shared_metrics_directory() -> str:
    """Make ``/metrics`` count every worker process: ``PROMETHEUS_MULTIPROC_DIR`` set to a
    new empty directory (removed when this process exits), unless it is set already.  Call
    it before prometheus-client is imported, in the process that starts the workers."""
    import os

    found = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if found:
        return found
    import atexit
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="chatplug-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # not in a forked worker leaving before the others
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)
    return path
