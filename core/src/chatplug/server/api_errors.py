"""The OpenAI error shape: :class:`ApiError` (an error answered as ``{"error": {...}}``) and
:func:`api_error`, the HTTP status and error of every :class:`~chatplug.ChatplugError`."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import (
    AllProvidersFailedError,
    AuthenticationError,
    ChatplugError,
    InvalidRequestError,
    ModelNotFoundError,
    PluginError,
    PluginLoadError,
    ProviderNotFoundError,
    RateLimitedError,
    StreamProtocolError,
    UnsupportedCapabilityError,
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from ..types import IMAGES, JSON_OBJECT, JSON_SCHEMA, REASONING, TOOLS

#: the Retry-After we send on a 429 when the upstream did not say how long to wait
DEFAULT_RETRY_AFTER = 2
#: the request field to blame when the chosen model lacks a capability
CAPABILITY_PARAMS = {
    TOOLS: "tools",
    IMAGES: "messages",
    JSON_SCHEMA: "response_format",
    JSON_OBJECT: "response_format",
    REASONING: "reasoning_effort",
}


class ApiError(Exception):
    """An error answered with an OpenAI-shaped body ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: Optional[str] = None,
        param: Optional[str] = None,
        provider: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.provider = provider
        self.headers: Dict[str, str] = dict(headers or {})

    def payload(self) -> Dict[str, Any]:
        error: Dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "param": self.param,
        }
        if self.provider is not None:
            error["provider"] = self.provider
        return {"error": error}

    def body(self) -> bytes:
        return json.dumps(self.payload()).encode()


def invalid(message: str, *, code: str = "invalid_value", param: Optional[str] = None) -> ApiError:
    return ApiError(400, message, code=code, param=param)


# errors -----------------------------------------------------------------------


def api_error(error: ChatplugError) -> ApiError:
    """The HTTP status and OpenAI-shaped error for a chatplug error."""
    provider = error.provider
    message = str(error)
    if error.hint:
        message = f"{message} ({error.hint})"
    if isinstance(error, AllProvidersFailedError):
        return _all_failed(error, message)
    if isinstance(error, (ModelNotFoundError, ProviderNotFoundError)):
        return ApiError(404, message, code="model_not_found", param="model", provider=provider)
    if isinstance(error, UnsupportedCapabilityError):
        param = CAPABILITY_PARAMS.get(error.capability)
        return ApiError(400, message, code="unsupported_capability", param=param, provider=provider)
    if isinstance(error, InvalidRequestError):
        return ApiError(400, message, code="invalid_request", provider=provider)
    if isinstance(error, RateLimitedError):
        return ApiError(
            429,
            message,
            type="rate_limit_error",
            code="rate_limit_exceeded",
            provider=provider,
            headers={"Retry-After": str(_retry_after(error.retry_after))},
        )
    if isinstance(error, UpstreamTimeoutError):
        return ApiError(
            504,
            message,
            type="timeout_error",
            code=f"upstream_timeout_{error.phase}",
            provider=provider,
        )
    if isinstance(error, PluginLoadError):
        return ApiError(
            503, message, type="server_error", code="provider_unavailable", provider=provider
        )
    return ApiError(
        502, message, type="upstream_error", code=_upstream_code(error), provider=provider
    )


def _upstream_code(error: ChatplugError) -> str:
    for kind, code in _UPSTREAM_CODES:
        if isinstance(error, kind):
            return code
    return "upstream_error"


_UPSTREAM_CODES: List[Tuple[type, str]] = [
    (AuthenticationError, "upstream_authentication_error"),
    (UpstreamHTTPError, "upstream_http_error"),
    (UpstreamConnectionError, "upstream_connection_error"),
    (StreamProtocolError, "stream_protocol_error"),
    (PluginError, "plugin_error"),
]


def _all_failed(error: AllProvidersFailedError, message: str) -> ApiError:
    causes = list(error.errors.values())
    if causes and all(isinstance(cause, RateLimitedError) for cause in causes):
        waits = [c.retry_after for c in causes if isinstance(c, RateLimitedError) and c.retry_after]
        return ApiError(
            429,
            message,
            type="rate_limit_error",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(_retry_after(min(waits) if waits else None))},
        )
    if causes and all(isinstance(cause, UpstreamTimeoutError) for cause in causes):
        return ApiError(504, message, type="timeout_error", code="upstream_timeout")
    return ApiError(502, message, type="upstream_error", code="all_providers_failed")


def _retry_after(seconds: Optional[float]) -> int:
    if seconds is None:
        return DEFAULT_RETRY_AFTER
    return max(1, math.ceil(seconds))
