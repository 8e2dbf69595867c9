"""What the emulator answers: a deterministic function of the (validated) request.

The triggers, so that a test can ask for each kind of answer:

- **text** (default): :func:`reply_pieces`, quoting the last user message; with image
  parts in it, the reply also says ``I see N image(s).``
- **tool calls**: with ``tools`` and ``tool_choice`` not ``"none"``, each mention of a
  tool's name in the last user message is one call (so two names, or one name twice, make
  parallel calls; ``parallel_tool_calls: false`` keeps the first).  ``tool_choice:
  "required"`` without a mention calls the first tool; ``tool_choice`` naming a function
  calls it.  Arguments are a JSON object of the schema's required properties
  (:func:`example`); ``finish_reason`` is ``tool_calls`` and there is no text.
- **tool results**: when the conversation ends with ``tool`` messages, the reply quotes
  each result with the name of the call it answers.
- **reasoning**: for a reasoning model (``o1``, ``o3``, ``o4``…, ``gpt-5``…) or any
  request with ``reasoning_effort``, ``reasoning_content`` deltas come first
  (:func:`reasoning_pieces`) and usage counts them as reasoning tokens.
- **structured output**: ``response_format`` ``json_object`` gives
  ``{"reply": <the text reply>, "turn": N}``; ``json_schema`` gives an object of the
  schema's required properties (:func:`example`), streamed in pieces.
- **length**: each delta (a reasoning piece, a text piece, a piece of tool arguments) is
  one token; ``max_tokens`` / ``max_completion_tokens`` cut the answer there with
  ``finish_reason: "length"``.
- **stop**: the text ends before the first ``stop`` sequence (``finish_reason: "stop"``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .catalogue import is_reasoning_model

#: characters of tool arguments or structured output per delta
PIECE = 6
#: prompt tokens counted per image part
IMAGE_TOKENS = 85


@dataclass
class Call:
    """One tool call of an answer; ``pieces`` are its argument fragments."""

    id: str
    name: str
    pieces: List[str]

    @property
    def arguments(self) -> str:
        return "".join(self.pieces)


@dataclass
class Answer:
    """An answer: reasoning deltas, text deltas, tool calls, finish reason and usage."""

    reasoning: List[str] = field(default_factory=list)
    content: List[str] = field(default_factory=list)
    calls: List[Call] = field(default_factory=list)
    finish: str = "stop"
    prompt_tokens: int = 0

    @property
    def text(self) -> str:
        return "".join(self.content)

    def usage(self) -> Dict[str, Any]:
        """The OpenAI ``usage`` object (one token per delta)."""
        completion = (
            len(self.reasoning)
            + len(self.content)
            + sum(len(call.pieces) + 1 for call in self.calls)
        )
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": len(self.reasoning)},
        }


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or its text parts joined by spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def images_in(content: Any) -> int:
    """How many image parts a message's content holds."""
    if not isinstance(content, list):
        return 0
    return sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image_url")


def reply_pieces(messages: Sequence[Dict[str, Any]]) -> List[str]:
    """The deterministic text reply to a conversation, as content deltas."""
    users = [m for m in messages if m.get("role") == "user"]
    last = users[-1].get("content", "") if users else ""
    pieces = [
        "Héllo",
        " from",
        " the",
        " émulator",
        " ✓",
        f" turn {len(users)}:",
        " «",
        text_of(last),
        "»",
    ]
    images = images_in(last)
    if images:
        pieces.append(f" I see {images} image{'' if images == 1 else 's'}.")
    return [*pieces, " — ", "日本語", " 🚀"]


def reasoning_pieces(messages: Sequence[Dict[str, Any]], effort: Optional[str]) -> List[str]:
    """The deterministic reasoning deltas for a conversation."""
    users = [m for m in messages if m.get("role") == "user"]
    last = text_of(users[-1].get("content")) if users else ""
    pieces = ["Thinking", " about", " «", last, "»"]
    if effort:
        pieces.append(f" ({effort} effort)")
    return [*pieces, " ✓"]


def tool_result_pieces(messages: Sequence[Dict[str, Any]]) -> List[str]:
    """The reply to a conversation ending with tool results: each quoted with its call."""
    names: Dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or ():
            names[call["id"]] = call["function"]["name"]
    results: List[Dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, message)
    pieces = ["Héllo", " from", " the", " émulator", " ✓", " tools", " said:"]
    for result in results:
        name = names.get(result["tool_call_id"], "?")
        pieces += [f" {name}", " «", text_of(result.get("content")), "»"]
    return [*pieces, " 🚀"]


def example(schema: Any, name: str = "value") -> Any:
    """A value matching ``schema``: ``const``, the first ``enum`` value, the ``default``;
    else by type: an object of the required properties, ``minItems`` items, a string
    ``"<name> ✓"``, the ``minimum`` (or 1, 1.5), ``true``, ``null``."""
    if not isinstance(schema, Mapping):
        return {}
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return example(options[0], name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        return {prop: example(properties.get(prop, {}), prop) for prop in required}
    if kind == "array":
        count = schema.get("minItems", 0)
        return [example(schema.get("items", {}), name) for _ in range(count)]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return schema.get("minimum", 1.5)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"{name} ✓"


def in_pieces(text: str, size: int = PIECE) -> List[str]:
    """``text`` cut into deltas of ``size`` characters."""
    return [text[start : start + size] for start in range(0, len(text), size)]


def planned_calls(body: Mapping[str, Any], text: str) -> List[str]:
    """The names of the tools to call (see the module docstring), in order."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return []
    if isinstance(choice, dict):
        return [choice["function"]["name"]]
    mentions: List[Tuple[int, str]] = []
    for tool in tools:
        name = tool["function"]["name"]
        pattern = rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])"
        mentions += [(found.start(), name) for found in re.finditer(pattern, text)]
    names = [name for _, name in sorted(mentions)]
    if not names and choice == "required":
        names = [tools[0]["function"]["name"]]
    if body.get("parallel_tool_calls") is False:
        names = names[:1]
    return names


def reasons(body: Mapping[str, Any]) -> bool:
    """Whether the answer starts with reasoning."""
    return is_reasoning_model(str(body.get("model", ""))) or bool(body.get("reasoning_effort"))


def prompt_tokens(messages: Sequence[Dict[str, Any]]) -> int:
    """Words of every message's text, plus :data:`IMAGE_TOKENS` per image."""
    return sum(
        len(text_of(m.get("content")).split()) + IMAGE_TOKENS * images_in(m.get("content"))
        for m in messages
    )


def build_answer(body: Mapping[str, Any]) -> Answer:
    """The answer to a validated ``POST /chat/completions`` body."""
    messages: List[Dict[str, Any]] = body["messages"]
    users = [m for m in messages if m.get("role") == "user"]
    answer = Answer(prompt_tokens=prompt_tokens(messages))
    if reasons(body):
        answer.reasoning = reasoning_pieces(messages, body.get("reasoning_effort"))
    last = messages[-1]
    names = planned_calls(body, text_of(last.get("content"))) if last["role"] == "user" else []
    if names:
        tools = {tool["function"]["name"]: tool["function"] for tool in body["tools"]}
        for index, name in enumerate(names):
            arguments = example(tools[name].get("parameters") or {"type": "object"}, name)
            text = json.dumps(arguments, ensure_ascii=False)
            answer.calls.append(Call(f"call_t{len(users)}_{index}", name, in_pieces(text)))
        answer.finish = "tool_calls"
    elif last["role"] == "tool":
        answer.content = tool_result_pieces(messages)
    else:
        answer.content = _formatted(body, messages, len(users))
    _stop(answer, body.get("stop"))
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(limit, int):
        _cut(answer, limit)
    return answer


def _formatted(body: Mapping[str, Any], messages: List[Dict[str, Any]], turn: int) -> List[str]:
    text_reply = reply_pieces(messages)
    response_format = body.get("response_format") or {}
    kind = response_format.get("type")
    if kind == "json_object":
        value: Any = {"reply": "".join(text_reply), "turn": turn}
    elif kind == "json_schema":
        value = example(response_format["json_schema"].get("schema") or {"type": "object"})
    else:
        return text_reply
    return in_pieces(json.dumps(value, ensure_ascii=False))


def _stop(answer: Answer, stop: Any) -> None:
    """End the text before the first stop sequence."""
    sequences = [stop] if isinstance(stop, str) else list(stop or ())
    text = answer.text
    ends = [text.find(sequence) for sequence in sequences if sequence and sequence in text]
    if not ends:
        return
    end = min(ends)
    pieces: List[str] = []
    length = 0
    for piece in answer.content:
        if length + len(piece) >= end:
            if end > length:
                pieces.append(piece[: end - length])
            break
        pieces.append(piece)
        length += len(piece)
    answer.content = pieces


def _cut(answer: Answer, limit: int) -> None:
    """Keep the first ``limit`` tokens: reasoning, then text, then each call (its name,
    then its argument pieces); ``finish_reason`` becomes ``length`` when any is left out."""
    total = len(answer.reasoning) + len(answer.content)
    total += sum(1 + len(call.pieces) for call in answer.calls)
    if total <= limit:
        return
    answer.finish = "length"
    keep = limit
    answer.reasoning = answer.reasoning[:keep]
    keep -= len(answer.reasoning)
    answer.content = answer.content[:keep]
    keep -= len(answer.content)
    calls: List[Call] = []
    for call in answer.calls:
        if keep <= 0:
            break
        call.pieces = call.pieces[: keep - 1]
        keep -= 1 + len(call.pieces)
        calls.append(call)
    answer.calls = calls
