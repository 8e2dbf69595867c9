"""The request: ``POST /api/chat``'s JSON body for a :class:`~chatplug.CompletionRequest`.

The messages become Ollama's (images inline as base64, tool calls with object arguments,
the tool name on each tool message, the assistant's thinking); the sampling fields and
options go into ``options``; tools, a JSON ``format``, ``think`` and ``keep_alive`` as
Ollama names them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Sequence

from chatplug import CompletionRequest, InvalidRequestError

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
