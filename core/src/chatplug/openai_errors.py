"""The typed error for an OpenAI-style error object (``{"error": {"message", "type",
"code"}}``), as an upstream sends it inside a stream of ``chat.completion.chunk`` events."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from .errors import AuthenticationError, RateLimitedError, UpstreamError, UpstreamHTTPError
from .http import redact

__all__ = ["chunk_error", "error_fields"]


def chunk_error(error: Any, provider: Optional[str], secret: Optional[str] = None) -> UpstreamError:
    """The typed error for an ``{"error": ...}`` object inside an OpenAI-style stream.

    A ``code`` or ``status`` that is an HTTP status, ``rate_limit`` types and
    ``invalid_api_key`` pick :class:`RateLimitedError`, :class:`AuthenticationError` or
    :class:`UpstreamHTTPError`; anything else is an :class:`UpstreamError` (retryable for a
    ``server_error`` or an untyped error).  ``secret`` never appears in it.
    """
    fields = error_fields(error)
    message = redact(str(fields.get("message") or "unknown error").strip(), secret)
    code = fields.get("code")
    kind = str(fields.get("type") or "")
    status = code if isinstance(code, int) and 400 <= code < 600 else None
    if status is None and isinstance(fields.get("status"), int):
        status = fields["status"]
    text = f"error in the stream: {message}"
    if status == 429 or "rate_limit" in kind or code == "rate_limit_exceeded":
        return RateLimitedError(
            text, body=message, provider=provider, hint="Wait and retry, or use another provider."
        )
    if status in (401, 403) or code == "invalid_api_key":
        return AuthenticationError(
            text,
            status=status or 401,
            body=message,
            provider=provider,
            hint="Check the provider's API key.",
        )
    if status is not None:
        return UpstreamHTTPError(
            text,
            status=status,
            body=message,
            provider=provider,
            hint="The upstream failed mid-stream; try again later.",
        )
    result = UpstreamError(
        text + (f" ({kind})" if kind else ""),
        provider=provider,
        hint="The upstream failed mid-stream; try again later.",
    )
    result.retryable = kind in ("server_error", "")
    return result


def error_fields(error: Any) -> Dict[str, Any]:
    """The fields of an OpenAI error object (``message``, ``type``, ``code``...), also for
    an error given as a bare string or another JSON value."""
    if isinstance(error, dict):
        return error
    if isinstance(error, str):
        return {"message": error}
    return {"message": json.dumps(error)}
