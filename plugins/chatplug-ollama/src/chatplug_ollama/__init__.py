"""chatplug provider plugin for Ollama's native chat API (``POST /api/chat``, NDJSON).

The module is the ``ollama`` provider (entry point ``chatplug.providers``), at
``http://127.0.0.1:11434`` unless the base URL is overridden.  It reports, through
contract 0.2, the text, the thinking, tool calls, usage, the finish reason and the model.

Settings (``request.settings``, from the provider's configuration table):

- ``api_key_env``: the variable holding a key sent as ``Authorization: Bearer`` (Ollama's
  cloud, or a server behind an authenticating proxy); default ``OLLAMA_API_KEY`` for
  ``ollama``, ``<ID>_API_KEY`` for another id; unset or empty: no header;
- ``headers``: extra HTTP headers;
- ``keep_alive``: how long the server keeps the model loaded (``"5m"``, seconds, ``-1``).

The catalogue is the built-in list, or the server's models once :func:`refresh_models`
cached them.  See the README for the request mapping.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Mapping, Sequence

from chatplug import (
    CompletionRequest,
    InvalidRequestError,
    ModelInfo,
    UpstreamHTTPError,
    hookimpl,
    open_stream,
)
from chatplug.events import StreamItem

from .catalogue import (
    DEFAULT_BASE_URL,
    DEFAULT_MODELS,
    PROVIDER,
    async_refresh_models,
    build_catalogue,
    cache_path,
    clear_cache,
    refresh_models,
)
from .stream import ChatStream, described_http_error

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__version__ = "0.2.0"
USER_AGENT = f"chatplug-ollama/{__version__}"

#: this plugin's settings in a provider's configuration table (name → type)
CHATPLUG_SETTINGS: Dict[str, Any] = {
    "api_key_env": str,
    "headers": dict,
    "keep_alive": (str, int),
}
#: request fields and options → Ollama's ``options`` (chatplug name → Ollama name)
SAMPLING = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "max_tokens": "num_predict",
    "max_completion_tokens": "num_predict",
}
#: options passed into Ollama's ``options`` under their own names
OLLAMA_OPTIONS = (
    "top_k",
    "min_p",
    "typical_p",
    "num_ctx",
    "num_predict",
    "num_keep",
    "repeat_penalty",
    "repeat_last_n",
    "mirostat",
    "mirostat_eta",
    "mirostat_tau",
)
_DATA_URL = re.compile(r"data:[\w.+-]+/[\w.+-]+(?:;[\w-]+=[^;,]*)*;base64,(.*)", re.DOTALL)


@hookimpl
def list_models() -> List[ModelInfo]:
    """The built-in catalogue, or the models cached by :func:`refresh_models` (no network)."""
    return build_catalogue(PROVIDER)


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[StreamItem]:
    """Stream ``POST {base}/api/chat``: text, thinking, tool calls, usage, finish."""
    payload = build_payload(request)
    parser = ChatStream(request.provider)
    opened = False
    try:
        async with open_stream(
            session,
            request,
            "POST",
            request.url(DEFAULT_BASE_URL, "/api/chat"),
            headers=build_headers(request.provider, request.settings),
            data=json.dumps(payload, ensure_ascii=False).encode(),
        ) as response:
            opened = True
            async for chunk in response.content.iter_any():
                for item in parser.feed(chunk):
                    yield item
                if parser.done:
                    break
            for item in parser.close():
                yield item
    except UpstreamHTTPError as error:
        if opened:
            raise
        raise described_http_error(error) from None


def build_headers(provider: str, settings: Mapping[str, Any]) -> Dict[str, str]:
    """JSON in, NDJSON out, the configured extras and the key (when there is one)."""
    headers = {
        "content-type": "application/json",
        "accept": "application/x-ndjson",
        "user-agent": USER_AGENT,
    }
    extra = settings.get("headers")
    if isinstance(extra, Mapping):
        headers.update({str(name).lower(): str(value) for name, value in extra.items()})
    env = settings.get("api_key_env")
    if env is None:
        env = re.sub(r"[^A-Za-z0-9]", "_", provider).upper() + "_API_KEY"
    key = os.environ.get(str(env)) if env else None
    if key:
        headers["authorization"] = f"Bearer {key}"
    return headers


# --- the request ---------------------------------------------------------------------


def _field(request: CompletionRequest, name: str) -> Any:
    value = getattr(request, name, None)
    if value is None or value == ():
        value = request.options.get(name)
    return value


def build_payload(request: CompletionRequest) -> Dict[str, Any]:
    """The JSON body of ``POST /api/chat`` for ``request`` (streamed)."""
    messages: List[Dict[str, Any]] = []
    if request.options.get("system"):
        messages.append({"role": "system", "content": str(request.options["system"])})
    messages += convert_messages(request.messages)
    payload: Dict[str, Any] = {"model": request.model, "messages": messages, "stream": True}
    options: Dict[str, Any] = {}
    for name, target in SAMPLING.items():
        value = _field(request, name)
        if value is not None and target not in options:
            options[target] = value
    for name in OLLAMA_OPTIONS:
        if request.options.get(name) is not None:
            options.setdefault(name, request.options[name])
    stop = _field(request, "stop")
    if stop:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if options:
        payload["options"] = options
    choice = request.tool_choice
    if request.tools and choice != "none":
        if choice not in (None, "auto"):
            raise InvalidRequestError(
                f"Ollama cannot force a tool call (tool_choice={choice!r}); use 'auto' or 'none'"
            )
        payload["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description or "",
                    "parameters": dict(tool.parameters or {"type": "object", "properties": {}}),
                },
            }
            for tool in request.tools
        ]
    response_format = request.response_format
    if response_format is not None:
        if response_format.type == "json_schema":
            payload["format"] = dict(response_format.schema or {})
        else:
            payload["format"] = "json"
    think = request.options.get("think")
    effort = _field(request, "reasoning_effort")
    if think is None and effort is not None:
        think = effort != "none"
    if think is not None:
        payload["think"] = think
    keep_alive = request.options.get("keep_alive", request.settings.get("keep_alive"))
    if keep_alive is not None:
        payload["keep_alive"] = keep_alive
    return payload


def convert_messages(messages: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Ollama messages for a conversation of OpenAI-style messages."""
    names: Dict[str, str] = {}  # tool call id → function name, for the tool messages
    result: List[Dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if role == "developer":
            role = "system"
        if role not in ("system", "user", "assistant", "tool"):
            raise InvalidRequestError(f"{where} has role {role!r}, which Ollama does not know")
        text, images = _content(message.get("content"), where)
        converted: Dict[str, Any] = {"role": role, "content": text}
        if images:
            converted["images"] = images
        if role == "assistant":
            thinking = "".join(
                str(item.get("text") or "")
                for item in message.get("reasoning") or ()
                if isinstance(item, Mapping) and not item.get("redacted")
            )
            if thinking:
                converted["thinking"] = thinking
            calls = [
                _tool_call(call, f"{where}.tool_calls") for call in message.get("tool_calls") or ()
            ]
            if calls:
                converted["tool_calls"] = [{"function": function} for _, function in calls]
                names.update((call_id, function["name"]) for call_id, function in calls)
        elif role == "tool":
            name = names.get(str(message.get("tool_call_id")))
            if name:
                converted["tool_name"] = name
        result.append(converted)
    return result


def _content(content: Any, where: str) -> "tuple[str, List[str]]":
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: List[str] = []
    images: List[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            found = _DATA_URL.fullmatch(url) if isinstance(url, str) else None
            if found is None:
                raise InvalidRequestError(
                    f"{where} has an image that is not a base64 data: URL; Ollama takes "
                    "images inline only"
                )
            images.append(found.group(1))
        else:
            raise InvalidRequestError(f"{where} has a content part Ollama cannot take: {kind!r}")
    return "".join(texts), images


def _tool_call(call: Any, where: str) -> "tuple[str, Dict[str, Any]]":
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise InvalidRequestError(f"{where} needs a function with a name")
    arguments = function.get("arguments") or "{}"
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        raise InvalidRequestError(f"{where} arguments are not valid JSON") from None
    if not isinstance(parsed, dict):
        raise InvalidRequestError(f"{where} arguments must be a JSON object")
    return str(call.get("id")), {"name": function["name"], "arguments": parsed}


__all__ = [
    "CHATPLUG_SETTINGS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODELS",
    "ChatStream",
    "__version__",
    "async_refresh_models",
    "build_catalogue",
    "build_headers",
    "build_payload",
    "cache_path",
    "clear_cache",
    "convert_messages",
    "list_models",
    "refresh_models",
    "stream_completion",
]
