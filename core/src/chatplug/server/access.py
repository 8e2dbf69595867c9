"""The access log: one JSON line per request, from an :class:`AccessRecord` the handlers fill."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Dict, Optional

from aiohttp import web

from .logs import BackgroundStreamHandler

ACCESS_LOGGER = "chatplug.server.access"
#: the status logged for a request whose client went away before the answer ended
CLIENT_CLOSED = 499

access_logger = logging.getLogger(ACCESS_LOGGER)


class AccessRecord:
    """What the access log says about one request (filled in by the handlers)."""

    __slots__ = (
        "chars",
        "chunks",
        "client_closed",
        "error",
        "first_chunk",
        "key",
        "model",
        "provider",
        "start",
        "stream",
    )

    def __init__(self, start: float) -> None:
        self.start = start
        self.provider: Optional[str] = None
        self.model: Optional[str] = None
        self.stream: Optional[bool] = None
        self.first_chunk: Optional[float] = None
        self.chunks = 0
        self.chars = 0
        self.error: Optional[str] = None
        #: the client went away before the answer ended (logged as status 499)
        self.client_closed = False
        #: the name of the API key the request presented (never the key itself)
        self.key: Optional[str] = None


#: where the access record lives on a request (a RequestKey on aiohttp >= 3.13)
RECORD_KEY: Any = (
    web.RequestKey("chatplug.access", AccessRecord)
    if hasattr(web, "RequestKey")
    else "chatplug.access"
)


def ensure_access_handler() -> None:
    """One JSON line per request on stderr, unless logging is configured already."""
    if access_logger.handlers or logging.getLogger().handlers:
        if access_logger.level == logging.NOTSET:
            access_logger.setLevel(logging.INFO)
        return
    handler = BackgroundStreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False


def _own_handler() -> Optional[BackgroundStreamHandler]:
    """Our stderr handler when it alone gets the lines unchanged: then a line is queued
    for it directly, without a ``LogRecord`` (a few microseconds per request)."""
    handlers = access_logger.handlers
    if len(handlers) != 1 or access_logger.filters or access_logger.propagate:
        return None
    handler = handlers[0]
    if type(handler) is not BackgroundStreamHandler or handler.filters:
        return None
    return handler if handler.plain else None


def log_access(request: web.Request, record: AccessRecord, status: int) -> None:
    if not access_logger.isEnabledFor(logging.INFO):
        return
    now = time.monotonic()
    entry: Dict[str, Any] = {
        "ts": round(time.time(), 3),
        "method": request.method,
        "path": request.path,
        "status": status,
        "provider": record.provider,
        "model": record.model,
        "stream": record.stream,
        "ttfc_ms": None
        if record.first_chunk is None
        else round((record.first_chunk - record.start) * 1000, 1),
        "total_ms": round((now - record.start) * 1000, 1),
        "chunks": record.chunks,
        "chars": record.chars,
        "error": record.error,
        "key": record.key,
        "remote": request.remote,
    }
    _emit(json.dumps(entry))


def log_connection(status: int, error: str, remote: Optional[str]) -> None:
    """The access-log line of a connection answered (or closed) before it made a request:
    a malformed request, or one whose head did not arrive in time."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    entry: Dict[str, Any] = {
        "ts": round(time.time(), 3),
        "method": None,
        "path": None,
        "status": status,
        "error": error,
        "remote": remote,
    }
    _emit(json.dumps(entry))


def _emit(line: str) -> None:
    handler = _own_handler()
    if handler is not None and handler.level <= logging.INFO:
        handler.put(line)
    else:
        access_logger.info(line)
