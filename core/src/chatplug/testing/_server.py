"""A raw asyncio TCP server on 127.0.0.1, runnable in the current loop or a thread.

The base of :class:`~chatplug.testing.ScriptedUpstream` and
:class:`~chatplug.testing.ForwardProxy`: subclasses implement :meth:`_handle`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Optional, Set


class LoopbackServer:
    """Serve connections on ``host:port`` (port 0: any free port).

    ``async with server:`` serves in the running loop; ``with server:`` serves from a
    background thread (for synchronous code, or to share one server between loops).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Optional[asyncio.AbstractServer] = None
        self._tasks: Set["asyncio.Task[None]"] = set()
        self._writers: Set[asyncio.StreamWriter] = set()
        self._thread: Optional[threading.Thread] = None
        self._thread_loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread_stop: Optional[asyncio.Event] = None
        self._thread_ready = threading.Event()
        self._thread_error: Optional[BaseException] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    # addresses -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (valid once started)."""
        if self._server is None and self.port == 0:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}"

    # in the running loop -----------------------------------------------------------

    async def start(self) -> None:
        """Start listening in the running loop (backlog: ``emulation.LISTEN_BACKLOG``)."""
        from ..emulation import LISTEN_BACKLOG

        self.loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, backlog=LISTEN_BACKLOG
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await asyncio.wait_for(server.wait_closed(), 5)
        except asyncio.TimeoutError:  # pragma: no cover - defensive
            pass

    async def __aenter__(self) -> Any:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._handle(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    # from a background thread -----------------------------------------------------

    def __enter__(self) -> Any:
        self._thread = threading.Thread(
            target=self._thread_main, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        self._thread_ready.wait(30)
        if self._thread_error is not None:
            raise self._thread_error
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop, stop = self._thread_loop, self._thread_stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._thread_loop = loop
        try:
            loop.run_until_complete(self._thread_serve())
        finally:
            loop.close()

    async def _thread_serve(self) -> None:
        self._thread_stop = asyncio.Event()
        try:
            await self.start()
        except BaseException as error:  # surfaced in __enter__
            self._thread_error = error
            self._thread_ready.set()
            return
        self._thread_ready.set()
        try:
            await self._thread_stop.wait()
        finally:
            await self.stop()
