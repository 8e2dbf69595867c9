"""``POST /v1/messages`` requests (the Anthropic Messages API) as a chatplug call.

:func:`parse_messages_request` is pure: ``system`` becomes a system message, ``tool_use``
blocks assistant ``tool_calls`` (their ``input`` as JSON arguments), ``tool_result`` blocks
``tool`` messages (before the rest of their user turn), images ``image_url`` parts (base64
sources as ``data:`` URLs), ``thinking`` / ``redacted_thinking`` blocks the assistant
message's ``reasoning`` blocks (their signature or data as metadata, for the provider that
sends them back).  Request
fields become the keyword arguments of :meth:`AsyncClient.stream
<chatplug.AsyncClient.stream>`.  Errors are 400 :class:`~chatplug.server.protocol.ApiError`
(rendered in Anthropic's error shape by the middleware).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import InvalidRequestError
from ..messages import normalize_messages
from ..types import Message
from .protocol import invalid
from .translation import Call

#: ``thinking.budget_tokens`` -> ``reasoning_effort``: the largest effort whose budget fits
#: (the budgets chatplug's Anthropic plugin sends for each effort, so a round trip is exact)
THINKING_EFFORTS = ((16384, "high"), (8192, "medium"), (2048, "low"), (0, "minimal"))
#: ``output_config.effort`` -> ``reasoning_effort``
OUTPUT_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
#: the prefix of a tool result's text when the caller marked it ``is_error``
ERROR_PREFIX = "Error: "


def parse_messages_request(body: Mapping[str, Any]) -> Call:
    """A validated Messages request; unknown fields are ignored."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("model: Field required (a model id such as 'provider/model')", param="model")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise invalid("max_tokens: a positive integer is required", param="max_tokens")
    messages = _conversation(body.get("system"), body.get("messages"))
    fields: Dict[str, Any] = {"max_tokens": max_tokens}
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            fields[name] = body[name]
    if body.get("stop_sequences"):
        fields["stop"] = body["stop_sequences"]
    tools = body.get("tools")
    if tools:
        fields["tools"] = _tools(tools)
    _tool_choice(body.get("tool_choice"), fields)
    effort = _effort(body.get("thinking"), body.get("output_config"))
    if effort is not None:
        fields["reasoning_effort"] = effort
    output = _output_format(body.get("output_config"))
    if output is not None:
        fields["response_format"] = output
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("user_id"), str):
        fields["user"] = metadata["user_id"]
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("stream: must be a boolean", param="stream")
    return Call(model.strip(), messages, fields, bool(stream), body)


def _conversation(system: Any, turns: Any) -> Tuple[Message, ...]:
    messages: List[Dict[str, Any]] = []
    if system is not None:
        text = system if isinstance(system, str) else _text_blocks("system", system)
        if text:
            messages.append({"role": "system", "content": text})
    if not isinstance(turns, list):
        raise invalid("messages: Field required (a list of messages)", param="messages")
    for index, turn in enumerate(turns):
        where = f"messages.{index}"
        if not isinstance(turn, Mapping) or turn.get("role") not in ("user", "assistant"):
            raise invalid(f"{where}: a message with role 'user' or 'assistant'", param="messages")
        content = turn.get("content")
        if isinstance(content, str):
            messages.append({"role": turn["role"], "content": content})
        elif not isinstance(content, list):
            raise invalid(f"{where}.content: a string or a list of blocks", param="messages")
        elif turn["role"] == "user":
            messages.extend(_user_turn(where, content))
        else:
            messages.append(_assistant_turn(where, content))
    try:
        return normalize_messages(messages)
    except InvalidRequestError as error:
        raise invalid(f"messages: {error.message}", param="messages") from None


def _blocks(where: str, content: List[Any]) -> List[Tuple[str, str, Mapping[str, Any]]]:
    """``(where, type, block)`` of each block; a block that is not an object is an error."""
    found = []
    for index, block in enumerate(content):
        at = f"{where}.content.{index}"
        if not isinstance(block, Mapping):
            raise invalid(f"{at}: a content block (an object)", param="messages")
        found.append((at, str(block.get("type")), block))
    return found


def _user_turn(where: str, content: List[Any]) -> List[Dict[str, Any]]:
    """Tool results first (each a ``tool`` message), then the user's own parts."""
    results: List[Dict[str, Any]] = []
    parts: List[Dict[str, Any]] = []
    for at, kind, block in _blocks(where, content):
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text")})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(at, block)}})
        elif kind == "tool_result":
            results.append(_tool_result(at, block))
        else:
            raise _unsupported(at, kind, "text, image and tool_result")
    if parts or not results:
        results.append({"role": "user", "content": parts})
    return results


def _assistant_turn(where: str, content: List[Any]) -> Dict[str, Any]:
    texts: List[str] = []
    calls: List[Dict[str, Any]] = []
    reasoning: List[Dict[str, Any]] = []
    for at, kind, block in _blocks(where, content):
        if kind == "thinking":
            signature = block.get("signature")
            entry: Dict[str, Any] = {"text": block.get("thinking")}
            if signature:
                entry["metadata"] = {"signature": signature}
            reasoning.append(entry)
        elif kind == "redacted_thinking":
            reasoning.append(
                {"text": "", "redacted": True, "metadata": {"data": block.get("data")}}
            )
        elif kind == "text":
            text = block.get("text")
            texts.append(text if isinstance(text, str) else "")
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": _arguments(at, block)},
                }
            )
        else:
            raise _unsupported(at, kind, "text, tool_use and thinking")
    message: Dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning"] = reasoning
    return message


def _arguments(at: str, block: Mapping[str, Any]) -> str:
    value = block.get("input", {})
    if not isinstance(value, Mapping):
        raise invalid(f"{at}.input: an object", param="messages")
    return json.dumps(value, ensure_ascii=False)


def _tool_result(at: str, block: Mapping[str, Any]) -> Dict[str, Any]:
    content = block.get("content", "")
    text = content if isinstance(content, str) else _text_blocks(f"{at}.content", content)
    if block.get("is_error") is True:
        text = ERROR_PREFIX + text
    return {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}


def _text_blocks(where: str, blocks: Any) -> str:
    """The text of a list of text blocks (``system``, a tool result's content)."""
    if not isinstance(blocks, list):
        raise invalid(f"{where}: a string or a list of text blocks", param="messages")
    texts = []
    for index, block in enumerate(blocks):
        if not isinstance(block, Mapping) or block.get("type") != "text":
            kind = block.get("type") if isinstance(block, Mapping) else type(block).__name__
            raise _unsupported(f"{where}.{index}", str(kind), "text")
        text = block.get("text")
        if not isinstance(text, str):
            raise invalid(f"{where}.{index}.text: a string", param="messages")
        texts.append(text)
    return "\n\n".join(texts) if where == "system" else "".join(texts)


def _image_url(at: str, block: Mapping[str, Any]) -> Any:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, Mapping) else None
    if kind == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"  # type: ignore[union-attr]
    if kind == "url":
        return source.get("url")  # type: ignore[union-attr]
    raise invalid(f"{at}.source: a 'base64' or 'url' image source, not {kind!r}", param="messages")


def _unsupported(at: str, kind: str, accepted: str) -> Exception:
    return invalid(
        f"{at}: '{kind}' blocks are not supported here; accepted: {accepted}",
        code="unsupported_content",
        param="messages",
    )


def _tools(tools: Any) -> List[Dict[str, Any]]:
    if not isinstance(tools, list):
        raise invalid("tools: a list of tools", param="tools")
    converted = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise invalid(f"tools.{index}: a tool (an object)", param="tools")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            raise invalid(
                f"tools.{index}: server tools ({kind!r}) are not supported; define client "
                "tools with name, description and input_schema",
                code="unsupported_tool",
                param="tools",
            )
        function = {"name": tool.get("name"), "parameters": tool.get("input_schema")}
        if tool.get("description") is not None:
            function["description"] = tool["description"]
        converted.append({"type": "function", "function": function})
    return converted


def _tool_choice(choice: Any, fields: Dict[str, Any]) -> None:
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind == "tool":
        fields["tool_choice"] = choice.get("name") or ""  # type: ignore[union-attr]
    elif kind in TOOL_CHOICES:
        fields["tool_choice"] = TOOL_CHOICES[kind]
    else:
        raise invalid(
            "tool_choice: one of {'type': 'auto' | 'any' | 'none'} or "
            "{'type': 'tool', 'name': ...}",
            param="tool_choice",
        )
    if choice.get("disable_parallel_tool_use") is True:  # type: ignore[union-attr]
        fields["parallel_tool_calls"] = False


def _effort(thinking: Any, output_config: Any) -> Optional[str]:
    if isinstance(output_config, Mapping) and output_config.get("effort") is not None:
        effort = output_config["effort"]
        if effort not in OUTPUT_EFFORTS:
            raise invalid(f"output_config.effort: unknown effort {effort!r}", param="output_config")
        return OUTPUT_EFFORTS[effort]
    if thinking is None:
        return None
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if kind in ("disabled", "adaptive"):
        return None  # no thinking asked for / the model decides: nothing to ask
    if kind != "enabled":
        raise invalid("thinking: {'type': 'enabled', 'budget_tokens': N}", param="thinking")
    budget = thinking.get("budget_tokens")  # type: ignore[union-attr]
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise invalid("thinking.budget_tokens: a positive integer", param="thinking")
    return next(effort for floor, effort in THINKING_EFFORTS if budget >= floor)


def _output_format(output_config: Any) -> Optional[Dict[str, Any]]:
    if not isinstance(output_config, Mapping) or output_config.get("format") is None:
        return None
    spec = output_config["format"]
    if not isinstance(spec, Mapping) or spec.get("type") != "json_schema":
        raise invalid(
            "output_config.format: {'type': 'json_schema', 'schema': {...}}",
            param="output_config",
        )
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": spec.get("schema")}}
