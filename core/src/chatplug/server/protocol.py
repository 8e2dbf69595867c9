"""The OpenAI wire shapes: request validation, response objects, SSE chunks, errors.

Nothing here does I/O; :mod:`chatplug.server.app` wires it to aiohttp.web.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
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
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from ..messages import normalize_messages
from ..types import Message

#: the Retry-After we send on a 429 when the upstream did not say how long to wait
DEFAULT_RETRY_AFTER = 2
MAX_STOP_SEQUENCES = 4
#: OpenAI roles accepted as synonyms of the roles chatplug knows
ROLE_SYNONYMS = {"developer": "system"}


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


# requests ---------------------------------------------------------------------


class ChatRequest:
    """A validated ``POST /v1/chat/completions`` body."""

    __slots__ = ("include_usage", "messages", "model", "options", "stream")

    def __init__(
        self,
        model: str,
        messages: Tuple[Message, ...],
        stream: bool,
        include_usage: bool,
        options: Dict[str, Any],
    ) -> None:
        self.model = model
        self.messages = messages
        self.stream = stream
        self.include_usage = include_usage
        self.options = options


def parse_json_body(raw: bytes) -> Dict[str, Any]:
    """The request body as a JSON object, or a 400 :class:`ApiError`."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise invalid(f"the request body is not valid JSON: {error}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise invalid(
            f"the request body must be a JSON object, not {type(body).__name__}",
            code="invalid_json",
        )
    return body


def parse_chat_request(body: Mapping[str, Any]) -> ChatRequest:
    """Validate a chat completion request; unknown fields are ignored."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("'model' is required: a model id such as 'provider/model'", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise invalid(
            "'messages' is required: a list of messages", code="invalid_messages", param="messages"
        )
    try:
        conversation = normalize_messages([_with_known_role(message) for message in messages])
    except InvalidRequestError as error:
        raise invalid(error.message, code="invalid_messages", param="messages") from None
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise invalid("'stream' must be a boolean", param="stream")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):  # True == 1 in Python
        raise invalid("only n=1 is supported", param="n")
    include_usage = False
    stream_options = body.get("stream_options")
    if isinstance(stream_options, dict):
        include_usage = stream_options.get("include_usage") is True
    return ChatRequest(model.strip(), conversation, stream, include_usage, _options(body))


def _with_known_role(message: Any) -> Any:
    if isinstance(message, dict) and message.get("role") in ROLE_SYNONYMS:
        return {**message, "role": ROLE_SYNONYMS[message["role"]]}
    return message


def _options(body: Mapping[str, Any]) -> Dict[str, Any]:
    """``temperature``, ``max_tokens``, ``stop`` and ``user``, checked, for the provider."""
    options: Dict[str, Any] = {}
    temperature = body.get("temperature")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise invalid("'temperature' must be a number", param="temperature")
        if not 0 <= temperature <= 2:
            raise invalid("'temperature' must be between 0 and 2", param="temperature")
        options["temperature"] = temperature
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_completion_tokens")
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise invalid("'max_tokens' must be a positive integer", param="max_tokens")
        options["max_tokens"] = max_tokens
    stop = body.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if (
            not isinstance(stop, list)
            or not all(isinstance(item, str) and item for item in stop)
            or len(stop) > MAX_STOP_SEQUENCES
        ):
            raise invalid(
                f"'stop' must be a string or a list of up to {MAX_STOP_SEQUENCES} strings",
                param="stop",
            )
        if stop:
            options["stop"] = stop
    user = body.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise invalid("'user' must be a string", param="user")
        options["user"] = user
    return options


# responses --------------------------------------------------------------------


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def estimate_tokens(characters: int) -> int:
    """A rough token count (about four characters per token): providers report none."""
    return (characters + 3) // 4


def usage(messages: Tuple[Message, ...], completion_chars: int) -> Dict[str, int]:
    prompt = estimate_tokens(sum(len(message["content"]) for message in messages))
    completion = estimate_tokens(completion_chars)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion_object(
    model: str, text: str, messages: Tuple[Message, ...], ident: Optional[str] = None
) -> Dict[str, Any]:
    """A ``chat.completion`` object (the answer of ``stream: false``)."""
    return {
        "id": ident or completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(messages, len(text)),
    }


class ChunkEncoder:
    """Pre-encoded ``chat.completion.chunk`` SSE events of one completion.

    Everything but the content string is encoded once; each text piece costs one
    string escape and one join.
    """

    __slots__ = ("_content_prefix", "_head", "created", "ident", "model")

    SUFFIX = b'},"finish_reason":null}]}\n\n'
    DONE = b"data: [DONE]\n\n"

    def __init__(self, model: str, ident: Optional[str] = None) -> None:
        self.ident = ident or completion_id()
        self.created = int(time.time())
        self.model = model
        self._head = (
            f'data: {{"id":"{self.ident}","object":"chat.completion.chunk",'
            f'"created":{self.created},"model":{json.dumps(model)},"choices":[{{"index":0,"delta":'
        ).encode()
        self._content_prefix = self._head + b'{"content":'

    def first(self, text: str) -> bytes:
        """The role chunk and the first content chunk, in one write."""
        return b"".join(
            (self._head, b'{"role":"assistant","content":""', self.SUFFIX, self.content(text))
        )

    def content(self, text: str) -> bytes:
        return b"".join((self._content_prefix, encode_basestring_ascii(text).encode(), self.SUFFIX))

    def last(self, usage: Optional[Dict[str, int]] = None) -> bytes:
        """The ``finish_reason: "stop"`` chunk (and the usage chunk), then ``[DONE]``."""
        parts = [self._head, b'{},"finish_reason":"stop"}]}\n\n']
        if usage is not None:
            chunk = {
                "id": self.ident,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage,
            }
            parts.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        parts.append(self.DONE)
        return b"".join(parts)

    @staticmethod
    def error(error: ApiError) -> bytes:
        """The final event of a stream that failed after it started."""
        return b"data: " + error.body() + b"\n\n"


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
