"""The app's middlewares: the access log, OpenAI-shaped errors, the API key, the body.

Outermost first: :func:`access_middleware` (one log line per request; it also keeps the
set of running requests for the graceful shutdown), :func:`error_middleware` (every error
as an OpenAI-shaped JSON body), :func:`auth_middleware` (the API key, its limits and the
accounting of what was served: :mod:`.keys`, :mod:`.observe`) and :func:`body_middleware`
(the request body read within ``body_timeout`` seconds, its transfer errors as 400s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, Optional

from aiohttp import web

from ..errors import ChatplugError
from .access import CLIENT_CLOSED, RECORD_KEY, AccessRecord, log_access
from .anthropic_stream import MESSAGES_PATH, anthropic_error_body
from .keys import auth_middleware
from .protocol import ApiError, api_error
from .state import SETTINGS, STATE

log = logging.getLogger("chatplug.server")

__all__ = ["access_middleware", "auth_middleware", "body_middleware", "error_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: the status and code of a request cut by the shutdown after the grace period
SHUTTING_DOWN = ApiError(
    503,
    "the server is shutting down; retry the request",
    type="server_error",
    code="server_shutting_down",
    headers={"Retry-After": "1", "Connection": "close"},
)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log one line per request: status, provider, model, time to first chunk, total."""
    record = AccessRecord(time.monotonic())
    request[RECORD_KEY] = record
    status = 500
    running = request.app[STATE].requests
    task = asyncio.current_task()
    if task is not None:
        running.add(task)
    try:
        response = await handler(request)
        status = CLIENT_CLOSED if record.client_closed else response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        status = CLIENT_CLOSED
        raise
    finally:
        running.discard(task)  # type: ignore[arg-type]
        if request.app[SETTINGS].access_log:
            log_access(request, record, status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as an OpenAI-shaped JSON body."""
    try:
        return await handler(request)
    except ApiError as error:
        return _error_response(request, error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error_response(request, _http_exception(error))
    except ChatplugError as error:
        return _error_response(request, api_error(error))
    except asyncio.CancelledError:
        if not request.app[STATE].claim_cut():
            raise  # the client went away
        return _error_response(request, SHUTTING_DOWN)
    except ConnectionResetError:
        raise
    except RecursionError:  # a JSON body nested deeper than Python's recursion limit
        return _error_response(
            request,
            ApiError(400, "the request body is nested too deeply", code="invalid_json"),
        )
    except Exception:
        log.exception("unexpected error handling %s %s", request.method, request.path)
        return _error_response(
            request,
            ApiError(500, "internal server error", type="server_error", code="internal_error"),
        )


def _http_exception(error: web.HTTPException) -> ApiError:
    codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
    message = error.text or error.reason
    if error.status == 413:
        message = f"the request body is too large: {error.text}"
    elif error.status == 404:
        message = "no such endpoint"
    return ApiError(
        error.status,
        message,
        code=codes.get(error.status, "http_error"),
        headers={key: value for key, value in error.headers.items() if key.lower() == "allow"},
    )


def _error_response(request: web.Request, error: ApiError) -> web.Response:
    record: Optional[AccessRecord] = request.get(RECORD_KEY)
    if record is not None:
        record.error = error.code
        if record.provider is None:
            record.provider = error.provider
    headers = dict(error.headers)
    close = headers.pop("Connection", "").lower() == "close"
    anthropic = request.path.startswith(MESSAGES_PATH)  # the Anthropic API's error shape
    response = web.Response(
        status=error.status,
        body=anthropic_error_body(error) if anthropic else error.body(),
        content_type="application/json",
        headers=headers,
    )
    if close:
        response.force_close()
    return response


@web.middleware
async def body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read the request body within ``body_timeout`` seconds (the handler then gets it
    from aiohttp's cache); a body that is late, or malformed in transfer (chunked framing,
    ``Content-Encoding``) is a 408 or 400, and the connection is closed after it."""
    if request.can_read_body:
        timeout = request.app[SETTINGS].body_timeout
        try:
            if request.content.is_eof():  # all here already (most bodies): no timer needed
                await request.read()
            else:
                await asyncio.wait_for(request.read(), timeout)
        except asyncio.TimeoutError:
            raise _unreadable(
                request,
                408,
                f"the request body did not arrive within {timeout:g}s",
                "request_timeout",
            ) from None
        except web.RequestPayloadError as error:
            raise _unreadable(
                request,
                400,
                f"the request body cannot be read: {_one_line(error)}",
                "invalid_body",
            ) from None
    return await handler(request)


def _unreadable(request: web.Request, status: int, message: str, code: str) -> ApiError:
    # aiohttp would go on reading (and fail on) the rest of this body after the answer
    request.content.feed_eof()
    return ApiError(status, message, code=code, headers={"Connection": "close"})


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200]
