"""The connection layer under the app: aiohttp's protocol with the server's limits.

:class:`ChatplugRunner` (an ``aiohttp.web.AppRunner``) serves the app through
:class:`GuardedRequestHandler`, aiohttp's ``RequestHandler`` plus:

- the request head (request line and headers) must arrive within ``head_timeout``
  seconds of the connection opening, or of its first byte on a kept-alive connection
  (a 408 answers a half-sent head; a connection that sent nothing is just closed);
- a client that leaves the send buffer full for ``write_timeout`` seconds (it stopped
  reading) is disconnected, which cancels its request and so its upstream request;
- what aiohttp's parser rejects (malformed request line, bad or oversized headers) is
  answered in the OpenAI error shape and logged as one access-log line, and routine
  client disconnects are not logged as errors.

The runner also shuts down gracefully (:meth:`ChatplugRunner.cleanup`): stop listening,
let running requests finish for ``grace`` seconds, then cut the rest (a 503, or a last
``server_shutting_down`` event for a stream that started); and it reports accept failures
(out of file descriptors) once per burst, closing idle connections to recover.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Optional

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from .access import log_connection
from .protocol import ApiError
from .state import SETTINGS, STATE

log = logging.getLogger("chatplug.server")

#: pending connections the listening socket queues (the kernel caps it at somaxconn)
BACKLOG = 1024
#: seconds the requests cut at the end of the grace period get to answer
CUT_WAIT = 5.0
#: seconds without an accept failure that end a burst of them
ACCEPT_QUIET = 2.0
ACCEPT_FAILED = "socket.accept() out of system resource"

ExceptionHandler = Callable[[asyncio.AbstractEventLoop, "dict[str, Any]"], object]


class GuardedRequestHandler(RequestHandler):
    """aiohttp's HTTP/1.1 protocol with a head timeout, a write timeout and OpenAI-shaped,
    quietly logged answers to malformed requests (see the module docstring)."""

    __slots__ = ("_head_started", "_head_timeout", "_head_timer", "_write_timeout", "_write_timer")

    def __init__(
        self, manager: web.Server, *, head_timeout: float, write_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._head_timeout = head_timeout
        self._write_timeout = write_timeout
        self._head_timer: Optional[asyncio.TimerHandle] = None
        self._write_timer: Optional[asyncio.TimerHandle] = None
        self._head_started = False

    # the request head -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if data and not self._head_started and self.idle:
            self._head_started = True
            if self._head_timer is None:
                self._arm_head_timer()
        super().data_received(data)
        if self._head_started and not self.idle:  # a whole head arrived
            self._head_started = False
            self._head_timer = _cancel(self._head_timer)

    @property
    def idle(self) -> bool:
        """Between requests: none being handled, none parsed and waiting."""
        return not getattr(self, "_request_in_progress", False) and not getattr(
            self, "_messages", None
        )

    def _arm_head_timer(self) -> None:
        _cancel(self._head_timer)
        self._head_timer = self._loop.call_later(self._head_timeout, self._head_expired)

    def _head_expired(self) -> None:
        self._head_timer = None
        transport = self.transport
        if transport is None or not self.idle:
            return
        if self._head_started:  # a request began and stalled: say why it is dropped
            error = ApiError(
                408,
                f"the request head did not arrive within {self._head_timeout:g}s",
                code="request_timeout",
            )
            transport.write(_raw_response(error))
            log_connection(408, "request_timeout", _peer(transport))
        transport.close()

    def close_if_idle(self, partial: bool = False) -> bool:
        """Close this connection if it is between requests, with nothing half-received
        (``partial``: or with a request head half-received)."""
        if self.transport is None or not self.idle or (self._head_started and not partial):
            return False
        self.transport.close()
        return True

    # the response ---------------------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self._loop.call_later(self._write_timeout, self._write_expired)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._write_timer = _cancel(self._write_timer)

    def _write_expired(self) -> None:
        self._write_timer = None
        transport = self.transport
        if transport is not None:
            log.info(
                "%s stopped reading for %gs: disconnected", _peer(transport), self._write_timeout
            )
            transport.abort()  # not close(): that would wait for the buffer to drain

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self._head_timer = _cancel(self._head_timer)
        self._write_timer = _cancel(self._write_timer)
        super().connection_lost(exc)

    # errors -----------------------------------------------------------------------

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: Optional[BaseException] = None,
        message: Optional[str] = None,
    ) -> web.StreamResponse:
        """What aiohttp answers itself (a request its parser rejects, an error that got
        past the app's middlewares): an OpenAI-shaped body, one log line."""
        if request.writer.output_size > 0 or isinstance(exc, ConnectionError):
            raise ConnectionError("the client went away, or the response was already sent")
        if status >= 500:  # 504: aiohttp's word for a TimeoutError that reached it
            log.error("error handling a request from %s", request.remote, exc_info=exc)
            error = ApiError(
                status, "internal server error", type="server_error", code="internal_error"
            )
        else:
            detail = _one_line(message or (str(exc) if exc else "") or "malformed request")
            error = ApiError(
                status, f"malformed HTTP request: {detail}", code="invalid_http_request"
            )
            log_connection(status, "invalid_http_request", request.remote)
        response = web.Response(status=status, body=error.body(), content_type="application/json")
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, (ConnectionError, HttpProcessingError, web.RequestPayloadError)):
            log.debug("%s: %s", args[0] if args else "client error", _one_line(str(error)))
            return
        super().log_exception(*args, **kwargs)


class GuardedServer(web.Server):
    """aiohttp's ``Server`` making :class:`GuardedRequestHandler` protocols."""

    head_timeout: float
    write_timeout: float

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(
            self,
            loop=self._loop,
            head_timeout=self.head_timeout,
            write_timeout=self.write_timeout,
            **self._kwargs,
        )


class ChatplugRunner(web.AppRunner):
    """An ``AppRunner`` for an app of :func:`~chatplug.server.create_app`: its connections
    get the app's limits (``keepalive``, ``head_timeout``, ``write_timeout``) and its
    :meth:`cleanup` lets requests finish for ``grace`` seconds (default: the app's)."""

    def __init__(
        self, app: web.Application, *, grace: Optional[float] = None, **kwargs: Any
    ) -> None:
        settings = app[SETTINGS]
        kwargs.setdefault("access_log", None)  # the app writes its own access log
        kwargs.setdefault("keepalive_timeout", settings.keepalive)
        # aiohttp's own wait comes after ours (cleanup), when no request runs any more;
        # it waits twice and takes 0 as "forever", so give it a short positive bound
        kwargs.setdefault("shutdown_timeout", 1.0)
        super().__init__(app, **kwargs)
        self.grace = settings.grace if grace is None else grace
        self._accept_errors: Optional[AcceptErrors] = None

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        settings = self.app[SETTINGS]
        server.__class__ = GuardedServer  # the same server, making our protocol
        assert isinstance(server, GuardedServer)
        server.head_timeout = settings.head_timeout
        server.write_timeout = settings.write_timeout
        return server

    async def setup(self) -> None:
        await super().setup()
        loop = asyncio.get_running_loop()
        self._accept_errors = AcceptErrors(loop, self._close_idle_connections)
        self._accept_errors.install()

    def _close_idle_connections(self, partial: bool = False) -> int:
        server = self.server
        if server is None:
            return 0
        return sum(
            isinstance(handler, GuardedRequestHandler) and handler.close_if_idle(partial)
            for handler in server.connections
        )

    async def cleanup(self) -> None:
        """Stop listening, let running requests finish for ``grace`` seconds, cut the rest,
        then aiohttp's own cleanup (the app's shutdown and cleanup: the client closes)."""
        if self.server is not None:
            await self.drain()
        await super().cleanup()
        if self._accept_errors is not None:
            self._accept_errors.uninstall()
            self._accept_errors = None

    async def drain(self) -> None:
        for site in list(self.sites):
            await site.stop()
        pre_shutdown = getattr(self.server, "pre_shutdown", None)
        if pre_shutdown is not None:
            pre_shutdown()  # busy connections close after their request
        self._close_idle_connections(partial=True)  # idle ones now
        state = self.app[STATE]
        running = {task for task in state.requests if not task.done()}
        if running and self.grace > 0:
            await asyncio.wait(running, timeout=self.grace)
        left = {task for task in state.requests if not task.done()}
        if left:
            state.cut.update(left)
            for task in left:
                task.cancel()
            await asyncio.wait(left, timeout=CUT_WAIT)


class AcceptErrors:
    """The event loop's exception handler while the server runs: accept failures (out of
    file descriptors or memory) are reported once per burst, not once per attempt, and the
    start of a burst closes idle connections to free descriptors; anything else goes to the
    handler that was there before."""

    def __init__(self, loop: asyncio.AbstractEventLoop, relieve: Callable[[], int]) -> None:
        self._loop = loop
        self._relieve = relieve
        self._previous: Optional[ExceptionHandler] = None
        self._started: Optional[float] = None
        self._last = 0.0
        self._failures = 0
        self._relieved = float("-inf")
        self._closed = 0

    def install(self) -> None:
        self._previous = self._loop.get_exception_handler()
        self._loop.set_exception_handler(self)

    def uninstall(self) -> None:
        if self._loop.get_exception_handler() is self:
            self._loop.set_exception_handler(self._previous)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: "dict[str, Any]") -> None:
        if context.get("message") != ACCEPT_FAILED:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = loop.time()
        self._failures += 1
        self._last = now
        if now - self._relieved >= 1.0:  # at most once a second (as often as accept retries)
            self._relieved = now
            self._closed += self._relieve()
        if self._started is None:
            self._started = now
            log.warning(
                "cannot accept connections: %s; idle connections are closed to free "
                "descriptors, accepting is retried every second (reported once per burst)",
                context.get("exception"),
            )
            loop.call_later(ACCEPT_QUIET, self._check_burst)

    def _check_burst(self) -> None:
        if self._started is None:
            return
        now = self._loop.time()
        if now - self._last < ACCEPT_QUIET:
            self._loop.call_later(ACCEPT_QUIET, self._check_burst)
            return
        log.warning(
            "accept failures stopped: %d failed accepts over %.1fs, %d idle connection(s) closed",
            self._failures,
            self._last - self._started,
            self._closed,
        )
        self._started, self._failures, self._closed = None, 0, 0


def _cancel(timer: Optional[asyncio.TimerHandle]) -> Optional[asyncio.TimerHandle]:
    """Cancel ``timer`` if there is one; ``None`` (for ``self._timer = _cancel(...)``)."""
    if timer is not None:
        timer.cancel()
    return None


def _raw_response(error: ApiError) -> bytes:
    """A whole HTTP/1.1 response, for a connection with no request object to answer."""
    body = error.body()
    reason = {408: "Request Timeout"}.get(error.status, "Error")
    head = (
        f"HTTP/1.1 {error.status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _peer(transport: asyncio.BaseTransport) -> Optional[str]:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, (tuple, list)) and peer else None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
