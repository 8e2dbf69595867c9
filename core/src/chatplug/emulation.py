"""Running provider emulators: local aiohttp.web apps that speak an upstream's protocol.

A plugin ships an emulator by registering a factory ``() -> aiohttp.web.Application`` in
the entry-point group ``chatplug.emulators`` under its provider id.  The app records
each reply it streams with :func:`record_reply` and may set ``app[BASE_PATH]`` (e.g.
``"/v1"``) when the provider's base URL has a path.  ``chatplug chat --emulate`` and the
conformance suite start it on 127.0.0.1 with :func:`run_emulator` / :class:`EmulatorThread`;
:func:`emulator_main` serves it alone (``python -m <plugin>.emulator --port N``)::

    if __name__ == "__main__":
        emulator_main("Acme emulator", create_app, port=8080)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, List, Optional, Sequence

from aiohttp import web

from .errors import PluginLoadError, ProviderNotFoundError
from .registry import EMULATOR_GROUP, entry_points

if TYPE_CHECKING:  # pragma: no cover
    import argparse

REPLIES = web.AppKey("chatplug.replies", list)
BASE_PATH = web.AppKey("chatplug.base_path", str)
#: the default split of writes: awkward on purpose (splits UTF-8 characters and events)
AWKWARD_SIZES = (1, 3, 2, 7, 5, 11, 4, 13)
#: the listen backlog of emulators and test servers: a burst of hundreds of connections at
#: once must not wait for SYN retries (the usual default, 128, stalls 500 connects for ~1 s)
LISTEN_BACKLOG = 1024

AppFactory = Callable[[], web.Application]


def record_reply(request: web.Request, text: str) -> None:
    """Note the reply text an emulator is about to stream (read by tests)."""
    request.app.setdefault(REPLIES, []).append(text)  # type: ignore[arg-type]


async def write_awkwardly(
    response: web.StreamResponse,
    data: bytes,
    *,
    sizes: Iterable[int] = AWKWARD_SIZES,
    delay: float = 0.0,
) -> None:
    """Write ``data`` in small uneven pieces, draining after each, to split everything."""
    sizes = tuple(sizes)
    position = index = 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        await response.write(data[position : position + size])
        position += size
        index += 1
        if delay:
            await asyncio.sleep(delay)


def emulator_factory(provider: str) -> AppFactory:
    """The emulator factory a plugin registered for ``provider``."""
    for entry in entry_points(EMULATOR_GROUP):
        if entry.name == provider:
            try:
                factory = entry.load()
            except Exception as error:
                raise PluginLoadError(
                    f"its emulator failed to import: {type(error).__name__}: {error}",
                    provider=provider,
                ) from error
            return factory  # type: ignore[no-any-return]
    available = [entry.name for entry in entry_points(EMULATOR_GROUP)]
    raise ProviderNotFoundError(provider, available)


class RunningEmulator:
    """An emulator listening on 127.0.0.1: ``url`` is the base URL to give the provider."""

    def __init__(self, app: web.Application, root: str) -> None:
        self.app = app
        self.root = root
        self.url = root + app.get(BASE_PATH, "")

    @property
    def replies(self) -> List[str]:
        return self.app.get(REPLIES, [])  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def run_emulator(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    shutdown_timeout: float = 60.0,
) -> AsyncIterator[RunningEmulator]:
    """Serve ``app`` in the running loop for the duration of the block.

    It listens with a backlog of :data:`LISTEN_BACKLOG`.  On exit, requests still being
    handled get ``shutdown_timeout`` seconds to finish.
    """
    app.setdefault(REPLIES, [])  # type: ignore[arg-type]
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG)
    await site.start()
    bound = runner.addresses[0]
    try:
        yield RunningEmulator(app, f"http://{bound[0]}:{bound[1]}")
    finally:
        await runner.cleanup()


class EmulatorThread:
    """Serve an app from a background thread (for synchronous code and tests).

    ``with EmulatorThread(app) as emulator: emulator.url``.
    """

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app, self._host, self._port = app, host, port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: Optional[asyncio.Event] = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._main, name="chatplug-emulator", daemon=True)
        self.emulator: Optional[RunningEmulator] = None

    def __enter__(self) -> RunningEmulator:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        assert self.emulator is not None
        return self.emulator

    def __exit__(self, *exc_info: Any) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with run_emulator(self._app, self._host, self._port) as emulator:
                self.emulator = emulator
                self._ready.set()
                await self._stop.wait()
        except BaseException as error:  # surfaced in __enter__
            self._error = error
            self._ready.set()


def emulator_parser(description: str, port: int) -> "argparse.ArgumentParser":
    """The command line of an emulator served alone: ``--host`` (default 127.0.0.1) and
    ``--port`` (default ``port``); add the emulator's own options to it."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    return parser


async def serve_forever(app: web.Application, name: str, host: str, port: int) -> None:
    """Serve ``app`` until cancelled; once it listens, print ``<name> on <its base URL>``."""
    async with run_emulator(app, host, port) as emulator:
        print(f"{name} on {emulator.url}", flush=True)
        await asyncio.Event().wait()


def run_standalone(app: web.Application, name: str, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until interrupted (see :func:`serve_forever`)."""
    try:
        asyncio.run(serve_forever(app, name, host, port))
    except KeyboardInterrupt:
        pass


def emulator_main(
    name: str,
    create_app: AppFactory,
    *,
    port: int,
    description: Optional[str] = None,
    argv: Optional[Sequence[str]] = None,
) -> None:
    """``python -m <plugin>.emulator [--host H] [--port P]``: serve ``create_app()`` alone,
    with a listen backlog of :data:`LISTEN_BACKLOG`, announcing ``<name> on <URL>``."""
    options = emulator_parser(description or f"The {name}, served alone.", port).parse_args(argv)
    run_standalone(create_app(), name, options.host, options.port)
