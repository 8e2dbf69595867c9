"""The OpenAI chat completions protocol: the request payload, the stream, error mapping.

The stream is parsed by the core's :class:`chatplug.openai_chunks.ChatChunkParser`: text,
reasoning, tool-call deltas, usage, the finish reason and the response id and model.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Mapping, Optional

from chatplug import (
    AuthenticationError,
    CompletionRequest,
    RateLimitedError,
    UpstreamHTTPError,
    http_error,
    open_stream,
)
from chatplug.events import StreamItem
from chatplug.http import redact
from chatplug.openai_chunks import ChatChunkParser, chunk_error, error_fields, iter_chat_chunks
from chatplug.provider_settings import api_key as settings_api_key
from chatplug.provider_settings import json_headers, key_hint, key_variables
from chatplug.types import ResponseFormat, Tool

from .catalogue import DEFAULT_BASE_URL, DEFAULT_PROVIDER, is_reasoning_model

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__version__ = "0.2.0"

log = logging.getLogger("chatplug_openai")

#: the request fields sent upstream under their own name, from the typed request field or,
#: when that is not set, from the option of the same name (others are not sent)
ALLOWED_OPTIONS = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "user",
    "reasoning_effort",
    "metadata",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "max_tokens",
    "max_completion_tokens",
)
USER_AGENT = f"chatplug-openai/{__version__}"
#: the key's variable of the ``openai`` provider (another id: ``<ID>_API_KEY``)
OWN_KEYS = {DEFAULT_PROVIDER: ("OPENAI_API_KEY",)}
ERROR_BODY_LIMIT = 64 * 1024

#: the 0.1 name of the core's parser (now :class:`chatplug.openai_chunks.ChatChunkParser`:
#: ``feed`` returns contract-0.2 items, not only text)
ChatStreamParser = ChatChunkParser
stream_error = chunk_error


# --- settings ----------------------------------------------------------------------


def key_env(provider: str, settings: Mapping[str, Any]) -> str:
    """The name of the environment variable holding the key (``""``: never send a key)."""
    names = key_variables(provider, settings, OWN_KEYS)
    return names[0] if names else ""


def api_key(provider: str, settings: Mapping[str, Any]) -> Optional[str]:
    """The API key, read from the environment now (``None`` when unset or disabled)."""
    return settings_api_key(provider, settings, OWN_KEYS, literal=False)


def auth_headers(key: Optional[str]) -> Dict[str, str]:
    """``Authorization: Bearer <key>``, or nothing at all without a key."""
    return {"authorization": f"Bearer {key}"} if key else {}


# --- the request -------------------------------------------------------------------


def build_payload(request: CompletionRequest) -> Dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``request``.

    The messages go as they are (content parts with images, assistant ``tool_calls``,
    ``tool`` messages; an assistant's ``reasoning`` blocks are left out: the chat
    completions API takes none back), after a ``system`` option as a leading system
    message.  Each field of :data:`ALLOWED_OPTIONS` comes from the typed request field, or
    else from the option of that name; ``max_tokens`` goes as ``max_completion_tokens`` for OpenAI's
    reasoning models (o-series, gpt-5) and when the caller said ``max_completion_tokens``.
    """
    messages: List[Any] = []
    system = request.options.get("system")
    if system:
        messages.append({"role": "system", "content": str(system)})
    for message in request.messages:
        if "reasoning" in message:  # chatplug's reasoning blocks: chat completions has none
            message = {key: value for key, value in message.items() if key != "reasoning"}
        messages.append(message)
    payload: Dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    options = request.options
    for name in ALLOWED_OPTIONS:
        value = getattr(request, name, None)
        if value is None or value == ():
            value = options.get(name)
        if value is not None:
            payload[name] = value
    if request.stop:
        payload["stop"] = list(request.stop)
    if request.tools:
        payload["tools"] = [tool_payload(tool) for tool in request.tools]
    choice = payload.get("tool_choice")
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        payload["tool_choice"] = {"type": "function", "function": {"name": choice}}
    if isinstance(payload.get("response_format"), ResponseFormat):
        payload["response_format"] = response_format_payload(payload["response_format"])
    for name in ("tools", "response_format", "logit_bias", "metadata", "stop"):
        if name in payload:
            payload[name] = plain(payload[name])
    limit = payload.pop("max_tokens", None)
    if limit is not None:
        wanted = "max_completion_tokens" in options or is_reasoning_model(request.model)
        payload.setdefault("max_completion_tokens" if wanted else "max_tokens", limit)
    return payload


def tool_payload(tool: Tool) -> Dict[str, Any]:
    """OpenAI's ``{"type": "function", "function": {...}}`` for a :class:`Tool`."""
    function: Dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = (
        plain(tool.parameters) if tool.parameters is not None else {"type": "object"}
    )
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def response_format_payload(response_format: ResponseFormat) -> Dict[str, Any]:
    """OpenAI's ``response_format`` for a :class:`ResponseFormat`."""
    if response_format.type != "json_schema":
        return {"type": response_format.type}
    schema: Dict[str, Any] = {"name": response_format.name or "response"}
    if response_format.schema is not None:
        schema["schema"] = plain(response_format.schema)
    if response_format.strict is not None:
        schema["strict"] = response_format.strict
    return {"type": "json_schema", "json_schema": schema}


def plain(value: Any) -> Any:
    """``value`` with every mapping a ``dict`` and every tuple a ``list`` (JSON-ready, for
    typed fields the core may hand over frozen); other values as they are."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def build_headers(request: CompletionRequest, key: Optional[str]) -> Dict[str, str]:
    headers = json_headers(request.settings, "text/event-stream", USER_AGENT)
    headers.update(auth_headers(key))
    return headers


# --- streaming ---------------------------------------------------------------------


async def stream_chat(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[StreamItem]:
    """Stream one chat completion (the ``stream_completion`` hook): text, reasoning,
    tool-call deltas, usage, the finish reason and the response metadata."""
    provider = request.provider
    settings = request.settings
    key = api_key(provider, settings)
    url = request.url(str(settings.get("base_url") or DEFAULT_BASE_URL), "/chat/completions")
    body = json.dumps(build_payload(request), ensure_ascii=False).encode()

    def on_error(response: "aiohttp.ClientResponse") -> Any:
        return upstream_error(response, provider, key, settings.get("api_key_env"))

    headers = build_headers(request, key)
    async with open_stream(
        session, request, "POST", url, headers=headers, data=body, on_error=on_error
    ) as response:
        async for item in iter_chat_chunks(response, provider=provider, secret=key):
            yield item


# --- errors ------------------------------------------------------------------------


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
        fields = error_fields(parsed["error"])
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
        settings = {} if env_setting is None else {"api_key_env": env_setting}
        error.hint = key_hint(provider, settings, key, OWN_KEYS)
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
