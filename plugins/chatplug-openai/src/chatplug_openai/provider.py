"""The OpenAI chat completions protocol: request payload, SSE stream parsing, error mapping."""

from __future__ import annotations

import json
import logging
import os
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Dict,
    List,
    Mapping,
    Optional,
)

from chatplug import (
    AuthenticationError,
    CompletionRequest,
    RateLimitedError,
    SSEDecoder,
    StreamProtocolError,
    UpstreamError,
    UpstreamHTTPError,
    http_error,
)

from .catalogue import DEFAULT_BASE_URL, DEFAULT_PROVIDER, default_key_env

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__version__ = "0.2.0"

log = logging.getLogger("chatplug_openai")

#: options passed through to the upstream as they are (others are ignored)
ALLOWED_OPTIONS = (
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
)
USER_AGENT = f"chatplug-openai/{__version__}"
ERROR_BODY_LIMIT = 64 * 1024
REDACTED = "[redacted]"


# --- settings ----------------------------------------------------------------------


def key_env(provider: str, settings: Mapping[str, Any]) -> str:
    """The name of the environment variable holding the key (``""``: never send a key)."""
    configured = settings.get("api_key_env")
    if configured is None:
        return "OPENAI_API_KEY" if provider == DEFAULT_PROVIDER else default_key_env(provider)
    return str(configured)


def api_key(provider: str, settings: Mapping[str, Any]) -> Optional[str]:
    """The API key, read from the environment now (``None`` when unset or disabled)."""
    env = key_env(provider, settings)
    return (os.environ.get(env) or None) if env else None


def auth_headers(key: Optional[str]) -> Dict[str, str]:
    """``Authorization: Bearer <key>``, or nothing at all without a key."""
    return {"authorization": f"Bearer {key}"} if key else {}


def build_payload(request: CompletionRequest) -> Dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``request``."""
    messages: List[Dict[str, Any]] = []
    system = request.options.get("system")
    if system:
        messages.append({"role": "system", "content": str(system)})
    messages.extend({"role": m["role"], "content": m["content"]} for m in request.messages)
    payload: Dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    options = request.options
    for name in ALLOWED_OPTIONS:
        value = options.get(name)
        if value is not None:
            payload[name] = value
    if (
        "max_tokens" in payload
        and request.model[:2] in ("o1", "o3", "o4")
        and (request.base_url or DEFAULT_BASE_URL).rstrip("/") == DEFAULT_BASE_URL
    ):  # OpenAI's reasoning models reject max_tokens
        payload.setdefault("max_completion_tokens", payload.pop("max_tokens"))
    return payload


def build_headers(request: CompletionRequest, key: Optional[str]) -> Dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "user-agent": USER_AGENT,
    }
    extra = request.settings.get("headers")
    if isinstance(extra, Mapping):
        headers.update({str(name).lower(): str(value) for name, value in extra.items()})
    headers.update(auth_headers(key))
    return headers


# --- streaming ---------------------------------------------------------------------


async def stream_chat(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[str]:
    """Stream the text deltas of one chat completion (the ``stream_completion`` hook)."""
    provider = request.provider
    key = api_key(provider, request.settings)
    url = request.url(
        str(request.settings.get("base_url") or DEFAULT_BASE_URL), "/chat/completions"
    )
    async with session.post(
        url,
        data=json.dumps(build_payload(request), ensure_ascii=False).encode(),
        headers=build_headers(request, key),
        proxy=request.proxy,
        timeout=request.timeout.client_timeout(),
    ) as response:
        if response.status >= 400:
            raise await upstream_error(response, provider, key, request.settings.get("api_key_env"))
        parser = ChatStreamParser(provider, key)
        async for chunk in response.content.iter_any():
            for text in parser.feed(chunk):
                yield text
            if parser.done:
                break
        parser.close()
        if parser.finish_reason or parser.usage:
            log.debug(
                "%s %s finished: %s, usage %s",
                provider,
                request.model,
                parser.finish_reason,
                parser.usage,
            )


class ChatStreamParser:
    """Parses an OpenAI ``chat.completion.chunk`` SSE stream fed in arbitrary byte pieces.

    :meth:`feed` returns the text deltas that became complete; ``done`` turns true at
    ``data: [DONE]``; :meth:`close` raises :class:`StreamProtocolError` when the stream
    ended without it.  ``finish_reason``, ``usage``, ``model`` and ``id`` keep what the
    stream said.  An ``{"error": ...}`` event raises the matching typed error.
    """

    __slots__ = (
        "_error",
        "_key",
        "_sse",
        "done",
        "finish_reason",
        "id",
        "model",
        "provider",
        "usage",
    )

    def __init__(self, provider: str = DEFAULT_PROVIDER, key: Optional[str] = None) -> None:
        self.provider = provider
        self.done = False
        self.finish_reason: Optional[str] = None
        self.usage: Optional[Dict[str, Any]] = None
        self.model: Optional[str] = None
        self.id: Optional[str] = None
        self._sse = SSEDecoder()
        self._key = key
        self._error: Optional[UpstreamError] = None

    def feed(self, chunk: bytes) -> List[str]:
        texts: List[str] = []
        if self._error is not None:
            raise self._error
        if self.done:
            return texts
        for data in self._sse.feed(chunk):
            if data == "[DONE]":
                self.done = True
                break
            try:
                text = self._event(data)
            except UpstreamError as error:
                if not texts:
                    raise
                self._error = error  # the text before the error comes out first
                break
            if text:
                texts.append(text)
        return texts

    def _event(self, data: str) -> Optional[str]:
        try:
            event = json.loads(data)
        except ValueError:
            raise StreamProtocolError(
                f"malformed JSON in the stream: {redact(data[:80], self._key)!r}",
                provider=self.provider,
            ) from None
        try:
            choices = event.get("choices")
            if choices:
                choice = choices[0]
                reason = choice.get("finish_reason")
                if reason:
                    self.finish_reason = reason
                delta = choice.get("delta")
                content = delta.get("content") if delta else None
                if self.id is None:
                    self.id, self.model = event.get("id"), event.get("model")
                if event.get("usage"):
                    self.usage = event["usage"]
                return content if isinstance(content, str) else None
        except (AttributeError, TypeError, KeyError, IndexError):  # not a dict where one belongs
            raise StreamProtocolError(
                f"unexpected event in the stream: {redact(data[:80], self._key)!r}",
                provider=self.provider,
            ) from None
        if "error" in event:
            raise stream_error(event["error"], self.provider, self._key)
        usage = event.get("usage")
        if usage:
            self.usage = usage
        return None

    def close(self) -> None:
        """End of the response: it must have ended with ``data: [DONE]``."""
        if self._error is not None:
            raise self._error
        if self.done:
            return
        rest = self._sse.close()
        if rest and rest[-1] == "[DONE]":
            self.done = True
            return
        for data in rest:  # a last event without its blank line; an error says why
            self._event(data)
        raise StreamProtocolError(
            "the stream ended without 'data: [DONE]' (truncated)", provider=self.provider
        )


# --- errors ------------------------------------------------------------------------


def redact(text: str, key: Optional[str]) -> str:
    """``text`` with every occurrence of ``key`` replaced."""
    if key and key in text:
        return text.replace(key, REDACTED)
    return text


def _error_fields(error: Any) -> Dict[str, Any]:
    if isinstance(error, dict):
        return error
    if isinstance(error, str):
        return {"message": error}
    return {"message": json.dumps(error)}


def _auth_hint(provider: str, env_setting: Any, key: Optional[str]) -> str:
    env = key_env(provider, {} if env_setting is None else {"api_key_env": env_setting})
    if not env:
        return (
            f"The server wants an API key: set api_key_env in [providers.{provider}] "
            "and put the key in that environment variable."
        )
    state = "is set but was refused" if key else "is not set"
    return f"Set the environment variable {env} to a valid API key ({env} {state})."


async def upstream_error(
    response: "aiohttp.ClientResponse",
    provider: str,
    key: Optional[str],
    env_setting: Any = None,
) -> UpstreamHTTPError:
    """The typed error for an HTTP error response with an OpenAI-shaped (or any) body."""
    try:
        raw = await response.content.read(ERROR_BODY_LIMIT)
    except Exception:  # the body is only a courtesy
        raw = b""
    error = await http_error(response, provider)
    text = raw.decode(errors="replace")
    fields: Dict[str, Any] = {}
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "error" in parsed:
        fields = _error_fields(parsed["error"])
    elif isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        fields = parsed  # some servers answer {"message": ...} or {"detail": ...}
    elif isinstance(parsed, dict) and isinstance(parsed.get("detail"), str):
        fields = {"message": parsed["detail"]}
    message = str(fields.get("message") or "").strip()
    error.body = redact(" ".join((message or text).split())[: 300 if not message else 1000], key)
    kind = [str(fields[name]) for name in ("type", "code") if fields.get(name)]
    if kind:
        error.message = redact(f"{error.message} ({', '.join(kind)})", key)
    if isinstance(error, AuthenticationError):
        error.hint = _auth_hint(provider, env_setting, key)
    elif isinstance(error, RateLimitedError) and fields.get("code") == "insufficient_quota":
        error.retryable = False
        error.hint = "The account has no quota left: check the provider's plan and billing."
    elif error.status == 404 and (fields.get("code") == "model_not_found" or "model" in message):
        error.hint = (
            "The server does not serve this model: list its models in the provider's "
            "'models' setting, or call chatplug_openai.refresh_models()."
        )
    elif error.status == 400:
        error.hint = "The server rejected the request; check the options and the model."
    error.args = (error.message,)
    return error


def stream_error(error: Any, provider: str, key: Optional[str]) -> UpstreamError:
    """The typed error for an ``{"error": ...}`` event inside the stream."""
    fields = _error_fields(error)
    message = redact(str(fields.get("message") or "unknown error").strip(), key)
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
