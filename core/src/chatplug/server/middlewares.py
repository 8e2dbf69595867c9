"""The app's middlewares: the access log, OpenAI-shaped errors, and the API key (its
checks, limits and accounting live in :mod:`.keys` and :mod:`.observe`)."""

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
from .state import SETTINGS

log = logging.getLogger("chatplug.server")

__all__ = ["access_middleware", "auth_middleware", "error_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log one line per request: status, provider, model, time to first chunk, total."""
    record = AccessRecord(time.monotonic())
    request[RECORD_KEY] = record
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        status = CLIENT_CLOSED
        raise
    finally:
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
    except (asyncio.CancelledError, ConnectionResetError):
        raise
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
    anthropic = request.path.startswith(MESSAGES_PATH)  # the Anthropic API's error shape
    return web.Response(
        status=error.status,
        body=anthropic_error_body(error) if anthropic else error.body(),
        content_type="application/json",
        headers=error.headers,
    )
