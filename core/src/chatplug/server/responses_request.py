"""``POST /v1/responses`` requests (the OpenAI Responses API) as a chatplug call.

:func:`parse_responses_request` is pure: it checks the body and turns ``input`` items into
chat messages (``function_call`` items into assistant ``tool_calls``, ``function_call_output``
items into ``tool`` messages, ``reasoning`` items into the next assistant message's
``reasoning`` blocks, ``instructions`` into a system message) and the request fields
into the keyword arguments of :meth:`AsyncClient.stream <chatplug.AsyncClient.stream>`.
Errors are 400 :class:`~chatplug.server.protocol.ApiError` naming the ``param``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import InvalidRequestError
from ..messages import normalize_messages
from ..types import Message
from .protocol import invalid
from .translation import Call, decode_reasoning

#: Responses roles and the chat role they become
ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
#: ``reasoning.effort`` values beyond chatplug's scale, and the nearest one
EFFORTS = {"xhigh": "high", "max": "high"}
#: fields that need state chatplug serve does not keep
STATEFUL = {
    "previous_response_id": "previous responses are not stored",
    "conversation": "conversations are not stored",
    "prompt": "stored prompts do not exist here",
    "background": "background responses are not supported",
}
SAMPLING = ("temperature", "top_p")


def parse_responses_request(body: Mapping[str, Any]) -> Call:
    """A validated Responses request; unknown fields are ignored."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("'model' is required: a model id such as 'provider/model'", param="model")
    for name, reason in STATEFUL.items():
        value = body.get(name)
        if value is not None and value is not False:
            raise invalid(
                f"'{name}' is not supported: {reason}; chatplug serve keeps no state, so send "
                "the whole conversation in 'input' (and leave out 'store')",
                code="unsupported_parameter",
                param=name,
            )
    messages = _messages(body.get("instructions"), body.get("input"))
    fields: Dict[str, Any] = {}
    for name in SAMPLING:
        if body.get(name) is not None:
            fields[name] = body[name]
    if body.get("max_output_tokens") is not None:
        fields["max_tokens"] = body["max_output_tokens"]
    tools = body.get("tools")
    if tools:
        fields["tools"] = _tools(tools)
    choice = body.get("tool_choice")
    if choice is not None:
        fields["tool_choice"] = _tool_choice(choice)
    if body.get("parallel_tool_calls") is not None:
        fields["parallel_tool_calls"] = body["parallel_tool_calls"]
    text_format = _text_format(body.get("text"))
    if text_format is not None:
        fields["response_format"] = text_format
    effort = _effort(body.get("reasoning"))
    if effort is not None:
        fields["reasoning_effort"] = effort
    for name in ("metadata", "user"):
        if body.get(name) is not None:
            fields[name] = body[name]
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("'stream' must be a boolean", param="stream")
    return Call(model.strip(), messages, fields, bool(stream), body)


def _messages(instructions: Any, items: Any) -> Tuple[Message, ...]:
    messages: List[Dict[str, Any]] = []
    reasoning: List[Dict[str, Any]] = []  # for the next assistant message
    if instructions is not None:
        if not isinstance(instructions, str):
            raise invalid("'instructions' must be a string", param="instructions")
        if instructions:
            messages.append({"role": "system", "content": instructions})
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    elif isinstance(items, list):
        for index, item in enumerate(items):
            _add_item(messages, reasoning, f"input[{index}]", item)
    else:
        raise invalid("'input' is required: a string or a list of input items", param="input")
    try:
        return normalize_messages(messages)
    except InvalidRequestError as error:
        raise invalid(error.message, code="invalid_input", param="input") from None


def _add_item(
    messages: List[Dict[str, Any]], reasoning: List[Dict[str, Any]], where: str, item: Any
) -> None:
    """Add an input item to ``messages``; ``reasoning`` holds reasoning items until the
    assistant message they belong to."""
    if not isinstance(item, Mapping):
        raise invalid(f"{where} must be an input item (an object)", param="input")
    kind = item.get("type", "message")
    if kind == "message":
        role = ROLES.get(item.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise invalid(
                f"{where}.role must be one of {', '.join(ROLES)}, not {item.get('role')!r}",
                param="input",
            )
        messages.append({"role": role, "content": _content(where, item.get("content"))})
        _attach(messages[-1], reasoning)
    elif kind == "function_call":
        call = {
            "id": item.get("call_id"),
            "type": "function",
            "function": {"name": item.get("name"), "arguments": item.get("arguments")},
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)  # one turn: text and its calls
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        _attach(messages[-1], reasoning)
    elif kind == "function_call_output":
        messages.append(
            {
                "role": "tool",
                "tool_call_id": item.get("call_id"),
                "content": _content(f"{where}.output", item.get("output")),
            }
        )
    elif kind == "reasoning":
        reasoning.extend(_reasoning(item))
    else:
        raise invalid(
            f"{where} has type {kind!r}; chatplug serve accepts 'message', 'function_call', "
            "'function_call_output' and 'reasoning' items",
            code="unsupported_item",
            param="input",
        )


def _reasoning(item: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """An earlier reasoning item as reasoning blocks: exactly as the provider gave them when
    this server wrote its ``encrypted_content``, else its summary text."""
    blocks = decode_reasoning(item.get("encrypted_content"))
    if blocks is not None:
        return blocks
    summary = item.get("summary")
    texts = [part.get("text") for part in summary or () if isinstance(part, Mapping)]
    text = "".join(text for text in texts if isinstance(text, str))
    return [{"text": text}] if text else []


def _attach(message: Dict[str, Any], reasoning: List[Dict[str, Any]]) -> None:
    """Give an assistant message the reasoning items that came before it."""
    if message["role"] == "assistant" and reasoning:
        message.setdefault("reasoning", []).extend(reasoning)
    reasoning.clear()


def _content(where: str, content: Any) -> Any:
    """A message's content as chat content: a string, or chat content parts."""
    if isinstance(content, str) or not isinstance(content, list):
        return content  # checked by normalize_messages
    parts: List[Dict[str, Any]] = []
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": part.get("text")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": part.get("refusal")})
        elif kind == "input_image":
            url = part.get("image_url")  # type: ignore[union-attr]
            if not isinstance(url, str):
                raise invalid(
                    f"{at}.image_url must be a URL (file_id images need stored files)",
                    param="input",
                )
            parts.append(
                {"type": "image_url", "image_url": {"url": url, "detail": part.get("detail")}}  # type: ignore[union-attr]
            )
        else:
            raise invalid(
                f"{at} has type {kind!r}; chatplug serve accepts input_text, input_image, "
                "output_text and refusal parts",
                code="unsupported_content",
                param="input",
            )
    return parts


def _tools(tools: Any) -> List[Dict[str, Any]]:
    if not isinstance(tools, list):
        raise invalid("'tools' must be a list of tools", param="tools")
    converted = []
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if kind != "function":
            raise invalid(
                f"tools[{index}] has type {kind!r}; chatplug serve runs function tools only "
                "(hosted tools such as web_search need OpenAI's servers)",
                code="unsupported_tool",
                param=f"tools[{index}]",
            )
        function = {
            key: tool[key]
            for key in ("name", "description", "parameters", "strict")
            if tool.get(key) is not None
        }
        converted.append({"type": "function", "function": function})
    return converted


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return choice.get("name") or ""
    kind = choice.get("type") if isinstance(choice, Mapping) else type(choice).__name__
    raise invalid(
        f"'tool_choice' {kind!r} is not supported: use 'auto', 'none', 'required' or "
        "{'type': 'function', 'name': ...}",
        param="tool_choice",
    )


def _text_format(text: Any) -> Optional[Dict[str, Any]]:
    if text is None:
        return None
    if not isinstance(text, Mapping):
        raise invalid("'text' must be an object", param="text")
    spec = text.get("format")
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise invalid("'text.format' must be an object", param="text.format")
    kind = spec.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {key: spec.get(key) for key in ("name", "schema", "strict")}
        return {"type": "json_schema", "json_schema": schema}
    raise invalid(
        f"'text.format.type' must be 'text', 'json_object' or 'json_schema', not {kind!r}",
        param="text.format",
    )


def _effort(reasoning: Any) -> Optional[str]:
    if reasoning is None:
        return None
    if not isinstance(reasoning, Mapping):
        raise invalid("'reasoning' must be an object", param="reasoning")
    effort = reasoning.get("effort")
    if effort is None:
        return None
    return EFFORTS.get(effort, effort)
