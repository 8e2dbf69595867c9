"""The request: OpenAI-style messages and typed fields → a Messages API body.

- ``system`` messages (and the ``system`` option) → the top-level ``system``;
- ``user``/``assistant`` turns, consecutive turns of one role merged into one;
- image parts → ``image`` blocks (``base64`` source from a ``data:`` URL, else ``url``);
- an assistant's ``tool_calls`` → ``tool_use`` blocks (the JSON arguments parsed into
  ``input``); a ``tool`` message → a ``tool_result`` block in a user turn;
- an assistant's ``reasoning`` list → ``thinking`` / ``redacted_thinking`` blocks first.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from chatplug import CompletionRequest, InvalidRequestError

DEFAULT_MAX_TOKENS = 4096
#: ``reasoning_effort`` → ``thinking.budget_tokens`` (``none``: no thinking)
THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
MIN_THINKING_BUDGET = 1024
TOOL_CHOICES = {"auto": "auto", "required": "any", "none": "none"}
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)((?:;[\w-]+=[^;,]*)*);base64,(.*)", re.DOTALL)

Block = Dict[str, Any]


def build_payload(
    request: CompletionRequest,
    *,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    max_output_tokens: Optional[int] = None,
) -> Dict[str, Any]:
    """The JSON body of ``POST /v1/messages`` for ``request`` (``stream: true``)."""
    options = request.options
    system, messages = convert_messages(request.messages, options.get("system"))
    payload: Dict[str, Any] = {"model": request.model, "messages": messages}
    cache = bool(options.get("prompt_cache"))
    if system:
        if cache:
            system[-1]["cache_control"] = {"type": "ephemeral"}
            payload["system"] = system
        else:
            payload["system"] = "\n\n".join(block["text"] for block in system)
    max_tokens = _field(request, "max_tokens", "max_completion_tokens")
    thinking = _thinking_budget(request)
    if max_tokens is None:
        max_tokens = default_max_tokens + (thinking or 0)
        if max_output_tokens is not None:
            max_tokens = min(max_tokens, max_output_tokens)
    payload["max_tokens"] = int(max_tokens)
    if thinking is not None:
        budget = min(thinking, payload["max_tokens"] - 1)
        if budget < MIN_THINKING_BUDGET:
            raise InvalidRequestError(
                f"max_tokens ({payload['max_tokens']}) leaves no room for thinking: Anthropic "
                f"needs a thinking budget of at least {MIN_THINKING_BUDGET} tokens below "
                "max_tokens; raise max_tokens or leave out reasoning_effort"
            )
        payload["thinking"] = {"type": "enabled", "budget_tokens": budget}
    stop = _field(request, "stop")
    if stop:
        payload["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    for name in ("temperature", "top_p"):
        value = _field(request, name)
        if value is not None:
            payload[name] = value
    if options.get("top_k") is not None:
        payload["top_k"] = options["top_k"]
    user = _field(request, "user")
    if user:
        payload["metadata"] = {"user_id": str(user)}
    if request.tools:
        payload["tools"] = [_tool(tool) for tool in request.tools]
        if cache:
            payload["tools"][-1]["cache_control"] = {"type": "ephemeral"}
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            payload["tool_choice"] = choice
    payload["stream"] = True
    return payload


def _field(request: CompletionRequest, *names: str) -> Any:
    """A typed request field, else the 0.1-style option of the same name(s)."""
    for name in names:
        value = getattr(request, name, None)
        if value is not None and value != ():
            return value
    for name in names:
        value = request.options.get(name)
        if value is not None:
            return value
    return None


def _thinking_budget(request: CompletionRequest) -> Optional[int]:
    budget = request.options.get("thinking_budget")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int):
            raise InvalidRequestError(f"thinking_budget must be an integer, not {budget!r}")
        return budget
    effort = _field(request, "reasoning_effort")
    if effort is None or effort == "none":
        return None
    if effort not in THINKING_BUDGETS:
        raise InvalidRequestError(
            f"reasoning_effort {effort!r} is not one of: none, {', '.join(THINKING_BUDGETS)}"
        )
    return THINKING_BUDGETS[effort]


def _tool(tool: Any) -> Block:
    block: Block = {"name": tool.name}
    if tool.description:
        block["description"] = tool.description
    block["input_schema"] = dict(tool.parameters or {"type": "object", "properties": {}})
    return block


def _tool_choice(choice: Optional[str], parallel: Optional[bool]) -> Optional[Block]:
    if choice is None and parallel is not False:
        return None
    kind = TOOL_CHOICES.get(choice or "auto")
    result: Block = {"type": kind} if kind else {"type": "tool", "name": choice}
    if parallel is False and result["type"] != "none":
        result["disable_parallel_tool_use"] = True
    return result


# --- messages ------------------------------------------------------------------------


def convert_messages(
    messages: Sequence[Mapping[str, Any]], system_option: Any = None
) -> Tuple[List[Block], List[Dict[str, Any]]]:
    """``(system text blocks, turns)`` for a conversation of OpenAI-style messages."""
    system: List[Block] = []
    if system_option:
        system.append({"type": "text", "text": str(system_option)})
    turns: List[Dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if role in ("system", "developer"):
            system += [b for b in _content_blocks(message.get("content"), where) if b["text"]]
            continue
        if role == "tool":
            role, blocks = "user", [_tool_result(message, where)]
        elif role == "user":
            blocks = _content_blocks(message.get("content"), where, images=True)
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
        else:
            raise InvalidRequestError(f"{where} has role {role!r}, which Anthropic does not know")
        blocks = [block for block in blocks if block["type"] != "text" or block["text"]]
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:  # a turn of one text block goes as a plain string
        content = turn["content"]
        if len(content) == 1 and content[0]["type"] == "text":
            turn["content"] = content[0]["text"]
    return system, turns


def _content_blocks(content: Any, where: str, *, images: bool = False) -> List[Block]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, (list, tuple)):
        raise InvalidRequestError(f"{where} content must be a string or a list of parts")
    blocks: List[Block] = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url" and images:
            blocks.append(_image(part.get("image_url"), where))
        else:
            raise InvalidRequestError(f"{where} has a content part Anthropic cannot take: {kind!r}")
    return blocks


def _image(image: Any, where: str) -> Block:
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str):
        raise InvalidRequestError(f"{where} has an image_url part without a 'url'")
    found = _DATA_URL.fullmatch(url)
    if found:
        source = {"type": "base64", "media_type": found.group(1), "data": found.group(3)}
    elif url.startswith(("https://", "http://")):
        source = {"type": "url", "url": url}
    else:
        raise InvalidRequestError(
            f"{where} has an image that is neither an http(s) URL nor a base64 data: URL"
        )
    return {"type": "image", "source": source}


def _tool_result(message: Mapping[str, Any], where: str) -> Block:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequestError(f"{where} (a tool message) has no tool_call_id")
    block: Block = {"type": "tool_result", "tool_use_id": call_id}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif content:
        block["content"] = _content_blocks(content, where, images=True)
    return block


def _assistant_blocks(message: Mapping[str, Any], where: str) -> List[Block]:
    blocks = reasoning_blocks(message.get("reasoning"), where)
    blocks += _content_blocks(message.get("content"), where)
    for number, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(call.get("id"), str):
            raise InvalidRequestError(f"{where}.tool_calls[{number}] needs an id and a function")
        arguments = function.get("arguments") or "{}"
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            raise InvalidRequestError(
                f"{where}.tool_calls[{number}] arguments are not valid JSON"
            ) from None
        if not isinstance(parsed, dict):
            raise InvalidRequestError(f"{where}.tool_calls[{number}] arguments must be an object")
        blocks.append(
            {"type": "tool_use", "id": call["id"], "name": function.get("name"), "input": parsed}
        )
    return blocks


def reasoning_blocks(reasoning: Any, where: str = "message") -> List[Block]:
    """``thinking`` / ``redacted_thinking`` blocks from an assistant's ``reasoning`` list.

    Each item is ``{"text", "metadata": {"signature"}}`` (a thinking block) or
    ``{"redacted": true, "metadata": {"data"}}`` (a redacted one), the shape of the
    :class:`~chatplug.events.ReasoningDelta` events the plugin streamed, assembled; the
    Messages API's own blocks (``{"type": "thinking", ...}``) are taken as they are.
    Thinking without a signature cannot be verified by Anthropic and is left out.
    """
    if not reasoning:
        return []
    if not isinstance(reasoning, (list, tuple)):
        raise InvalidRequestError(f"{where} reasoning must be a list")
    blocks: List[Block] = []
    for item in reasoning:
        if not isinstance(item, Mapping):
            raise InvalidRequestError(f"{where} reasoning items must be objects")
        if item.get("type") in ("thinking", "redacted_thinking"):
            blocks.append(dict(item))
            continue
        metadata = item.get("metadata") or {}
        if item.get("redacted"):
            if metadata.get("data"):
                blocks.append({"type": "redacted_thinking", "data": metadata["data"]})
        elif metadata.get("signature"):
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": str(item.get("text") or ""),
                    "signature": metadata["signature"],
                }
            )
    return blocks
