"""An offline emulator of Anthropic's Messages API, for tests and ``--emulate``.

``create_app()`` serves ``POST /v1/messages`` the way Anthropic does:

- it requires ``anthropic-version: 2023-06-01`` and (with ``keys`` or ``require_key``) an
  ``x-api-key``; it validates the body (required ``model``, ``max_tokens``, ``messages``;
  roles ``user``/``assistant`` only, the system prompt being top-level; block types and
  where they may appear; every ``tool_use`` answered by a ``tool_result`` in the next
  turn; thinking signatures it issued; ranges; unknown fields) and answers errors in
  Anthropic's shape, ``{"type": "error", "error": {"type", "message"}}``;
- it streams the named events (``message_start``, ``ping``, ``content_block_start`` /
  ``_delta`` / ``_stop``, ``message_delta``, ``message_stop``) in awkward pieces, or answers
  one ``message`` JSON with ``"stream": false``.

The answer is deterministic and reflects the request:

- text: ``Claude émulé ✓ — turn N: «<last user text>» 日本語 🚀``, one token per word;
  after tool results it quotes them instead;
- thinking (when ``thinking`` is enabled): a thinking block with a signature the emulator
  checks when it comes back; the documented test string
  :data:`REDACTED_TRIGGER` in the last user message gives a ``redacted_thinking`` block;
- tool calls (when ``tools`` are given and ``tool_choice`` is not ``none``): a
  ``tool_use`` block for every tool whose name the last user text mentions (parallel,
  unless ``disable_parallel_tool_use``), or the forced tool (``tool``; ``any``: the first
  tool when none is named), with arguments made from the tool's input schema;
- ``max_tokens`` cuts the answer (``stop_reason: max_tokens``); a stop sequence cuts the
  text before it (``stop_sequence``); usage counts words; a system prompt or tools marked
  with ``cache_control`` are "cached": written on the first request, read afterwards.

Faults are scripted with :func:`create_app`'s arguments (``status``, ``error_event``,
``truncate``, ``drop``, ``delay``).  ``python -m chatplug_anthropic.emulator --port N``
serves it alone (listen backlog 1024).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Dict, List, Optional, Sequence

from aiohttp import web
from chatplug.emulation import emulator_main, record_reply
from chatplug.emulator_kit import DISCONNECTS as DISCONNECTS
from chatplug.emulator_kit import (
    FAULTS,
    INVALID,
    MISSING,
    ApiKeys,
    Faults,
    emulator_app,
    read_logged_json,
    stream_body,
)
from chatplug.emulator_kit import REQUESTS as REQUESTS

from . import API_VERSION, MODELS_BY_ID

#: Anthropic's documented string that makes a model answer with redacted thinking
REDACTED_TRIGGER = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253"
)
FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "service_tier",
    }
)
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {"overloaded_error": "Overloaded", "rate_limit_error": "Rate limited"}
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_SECRET = b"chatplug-anthropic-emulator"


class Invalid(Exception):
    """A request the API refuses: ``status``, error ``type`` and ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def error_response(
    status: int, message: str, headers: Optional[Dict[str, str]] = None
) -> web.Response:
    kind = ERROR_TYPES.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_emu"}
    return web.json_response(body, status=status, headers=headers)


def sign(kind: str, text: str) -> str:
    """The signature the emulator gives a thinking block (checked when it comes back)."""
    digest = hashlib.sha256(_SECRET + kind.encode() + text.encode()).digest()
    return base64.b64encode(digest).decode()


# --- validation --------------------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Invalid(message)


def _number(body: Dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    _require(
        not isinstance(value, bool) and isinstance(value, (int, float)),
        f"{name}: Input should be a valid number",
    )
    _require(low <= value <= high, f"{name}: range: {low:g}..{high:g}")


def validate(body: Any) -> None:
    """Raise :class:`Invalid` for a body the Messages API refuses."""
    _require(isinstance(body, dict), "Input should be a valid dictionary")
    extra = sorted(set(body) - FIELDS)
    _require(not extra, f"{extra[0] if extra else ''}: Extra inputs are not permitted")
    _require("model" in body, "model: Field required")
    _require(isinstance(body["model"], str), "model: Input should be a valid string")
    model = MODELS_BY_ID.get(body["model"]) or next(
        (m for m in MODELS_BY_ID.values() if body["model"] in m.aliases), None
    )
    if model is None:
        raise Invalid(f"model: {body['model']}", 404)
    _require("max_tokens" in body, "max_tokens: Field required")
    max_tokens = body["max_tokens"]
    _require(
        isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens >= 1,
        "max_tokens: Input should be a valid integer greater than or equal to 1",
    )
    _require(
        max_tokens <= model.max_output_tokens,
        f"max_tokens: {max_tokens} > {model.max_output_tokens}, which is the maximum allowed "
        f"number of output tokens for {model.id}",
    )
    _require("messages" in body, "messages: Field required")
    _require(isinstance(body["messages"], list), "messages: Input should be a valid list")
    _require(bool(body["messages"]), "messages: at least one message is required")
    _require(isinstance(body.get("stream", False), bool), "stream: Input should be a valid boolean")
    _number(body, "temperature", 0, 1)
    _number(body, "top_p", 0, 1)
    top_k = body.get("top_k")
    _require(top_k is None or (isinstance(top_k, int) and top_k >= 0), "top_k: invalid")
    stops = body.get("stop_sequences")
    _require(
        stops is None or (isinstance(stops, list) and all(isinstance(s, str) for s in stops)),
        "stop_sequences: Input should be a valid list of strings",
    )
    _validate_system(body.get("system"))
    _validate_tools(body)
    _validate_thinking(body, model.thinking)
    metadata = body.get("metadata")
    _require(
        metadata is None or (isinstance(metadata, dict) and set(metadata) <= {"user_id"}),
        "metadata: only user_id is permitted",
    )
    _validate_messages(body["messages"], bool(body.get("tools")))


def _validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    _require(isinstance(system, list), "system: Input should be a valid string or list")
    for index, block in enumerate(system):
        _require(
            isinstance(block, dict) and block.get("type") == "text",
            f"system.{index}: Input tag '{_tag(block)}' does not match the expected tag 'text'",
        )
        _text_block(block, f"system.{index}")


def _tag(block: Any) -> Any:
    return block.get("type") if isinstance(block, dict) else block


def _cache_control(block: Dict[str, Any], where: str) -> None:
    control = block.get("cache_control")
    _require(
        control is None or (isinstance(control, dict) and control.get("type") == "ephemeral"),
        f"{where}.cache_control: Input tag does not match the expected tag 'ephemeral'",
    )


def _text_block(block: Dict[str, Any], where: str) -> None:
    _require(isinstance(block.get("text"), str), f"{where}.text: Field required")
    _require(bool(block["text"]), f"{where}: text content blocks must be non-empty")
    _cache_control(block, where)


def _validate_tools(body: Dict[str, Any]) -> List[str]:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if tools is None:
        _require(choice is None, "tool_choice may only be specified while providing tools")
        return []
    _require(isinstance(tools, list), "tools: Input should be a valid list")
    names: List[str] = []
    for index, tool in enumerate(tools):
        where = f"tools.{index}"
        _require(isinstance(tool, dict), f"{where}: Input should be a valid dictionary")
        name = tool.get("name")
        _require(
            isinstance(name, str) and bool(_TOOL_NAME.fullmatch(name)),
            f"{where}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'",
        )
        _require(name not in names, "tools: Tool names must be unique.")
        schema = tool.get("input_schema")
        _require(isinstance(schema, dict), f"{where}.input_schema: Field required")
        _require(
            schema.get("type") == "object",
            f"{where}.input_schema.type: Input should be 'object'",
        )
        _cache_control(tool, where)
        names.append(name)
    if choice is not None:
        _require(isinstance(choice, dict), "tool_choice: Input should be a valid dictionary")
        kind = choice.get("type")
        _require(
            kind in ("auto", "any", "tool", "none"),
            "tool_choice: Input tag does not match any of the expected tags: "
            "'auto', 'any', 'tool', 'none'",
        )
        if kind == "tool":
            _require(choice.get("name") in names, f"Tool '{choice.get('name')}' not found")
        _require(
            isinstance(choice.get("disable_parallel_tool_use", False), bool),
            "tool_choice.disable_parallel_tool_use: Input should be a valid boolean",
        )
    return names


def _validate_thinking(body: Dict[str, Any], supported: bool) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    _require(isinstance(thinking, dict), "thinking: Input should be a valid dictionary")
    if thinking.get("type") == "disabled":
        return
    _require(thinking.get("type") == "enabled", "thinking.type: Input should be 'enabled'")
    _require(supported, f"thinking: {body['model']} does not support extended thinking")
    budget = thinking.get("budget_tokens")
    _require(
        isinstance(budget, int) and budget >= 1024,
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    )
    _require(
        budget < body["max_tokens"],
        "`max_tokens` must be greater than `thinking.budget_tokens`",
    )
    _require(
        body.get("temperature") in (None, 1),
        "`temperature` may only be set to 1 when thinking is enabled",
    )
    kind = (body.get("tool_choice") or {}).get("type")
    _require(
        kind not in ("any", "tool"),
        "Thinking may not be enabled when tool_choice forces tool use.",
    )


def _validate_messages(messages: List[Any], has_tools: bool) -> None:
    pending: List[str] = []  # tool_use ids the next turn must answer
    last = len(messages) - 1
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        _require(isinstance(message, dict), f"{where}: Input should be a valid dictionary")
        role = message.get("role")
        if role == "system":
            raise Invalid(
                f'{where}: Unexpected role "system". The Messages API accepts a top-level '
                '`system` parameter, not "system" as an input message role.'
            )
        _require(
            role in ("user", "assistant"), f"{where}.role: Input should be 'user' or 'assistant'"
        )
        content = message.get("content")
        if isinstance(content, str):
            _require(
                bool(content) or (index == last and role == "assistant"),
                f"{where}: all messages must have non-empty content except for the optional "
                "final assistant message",
            )
            blocks: List[Any] = [{"type": "text", "text": content}] if content else []
        else:
            _require(isinstance(content, list), f"{where}.content: Input should be a valid list")
            _require(
                bool(content) or (index == last and role == "assistant"),
                f"{where}: all messages must have non-empty content except for the optional "
                "final assistant message",
            )
            blocks = content
        answered = [b.get("tool_use_id") for b in blocks if _tag(b) == "tool_result"]
        if pending:
            _require(
                role == "user" and set(pending) <= set(answered),
                f"{where}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {', '.join(pending)}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message.",
            )
        unexpected = [i for i in answered if i not in pending]
        _require(
            not unexpected,
            f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
            f"{', '.join(map(str, unexpected))}. Each `tool_result` block must have a "
            "corresponding `tool_use` block in the previous message.",
        )
        pending = []
        for number, block in enumerate(blocks):
            used = _validate_block(block, role, f"{where}.content.{number}")
            if used is not None:
                pending.append(used)
        _require(
            has_tools or not (pending or answered),
            "Requests which include `tool_use` or `tool_result` blocks must define tools.",
        )


def _validate_block(block: Any, role: str, where: str) -> Optional[str]:
    """Check one content block; the id of a ``tool_use`` block."""
    _require(isinstance(block, dict), f"{where}: Input should be a valid dictionary")
    kind = block.get("type")
    allowed = {
        "user": ("text", "image", "tool_result"),
        "assistant": ("text", "tool_use", "thinking", "redacted_thinking"),
    }[role]
    _require(kind in allowed, f"{where}: Input tag '{kind}' is not permitted in a {role} message")
    if kind == "text":
        _text_block(block, where)
    elif kind == "image":
        _image(block.get("source"), f"{where}.source")
    elif kind == "tool_result":
        _require(isinstance(block.get("tool_use_id"), str), f"{where}.tool_use_id: Field required")
        content = block.get("content")
        if isinstance(content, list):
            for number, part in enumerate(content):
                _require(
                    _tag(part) in ("text", "image"),
                    f"{where}.content.{number}: Input tag '{_tag(part)}' is not permitted",
                )
                _validate_block(part, "user", f"{where}.content.{number}")
        else:
            _require(content is None or isinstance(content, str), f"{where}.content: invalid")
    elif kind == "tool_use":
        _require(isinstance(block.get("id"), str), f"{where}.id: Field required")
        _require(isinstance(block.get("name"), str), f"{where}.name: Field required")
        _require(
            isinstance(block.get("input"), dict),
            f"{where}.input: Input should be a valid dictionary",
        )
        return str(block["id"])
    elif kind == "thinking":
        _require(isinstance(block.get("thinking"), str), f"{where}.thinking: Field required")
        _require(isinstance(block.get("signature"), str), f"{where}.signature: Field required")
        _require(
            block["signature"] == sign("thinking", block["thinking"]),
            f"{where}: Invalid `signature` in `thinking` block",
        )
    elif kind == "redacted_thinking":
        data = block.get("data")
        _require(
            isinstance(data, str) and data == _redacted_data(),
            f"{where}: Invalid `data` in `redacted_thinking` block",
        )
    return None


def _image(source: Any, where: str) -> None:
    _require(isinstance(source, dict), f"{where}: Field required")
    kind = source.get("type")
    if kind == "base64":
        _require(
            source.get("media_type") in IMAGE_TYPES,
            f"{where}.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or "
            "'image/webp'",
        )
        try:
            base64.b64decode(str(source.get("data")), validate=True)
        except ValueError:
            raise Invalid(f"{where}.data: The image data is not valid base64") from None
    elif kind == "url":
        _require(
            str(source.get("url", "")).startswith(("https://", "http://")),
            f"{where}.url: Input should be a valid URL",
        )
    else:
        raise Invalid(f"{where}: Input tag '{kind}' does not match 'base64' or 'url'")


def _redacted_data() -> str:
    return base64.b64encode(hashlib.sha256(_SECRET + b"redacted").digest() * 2).decode()


# --- the answer --------------------------------------------------------------------------


_NOT_TEXT = frozenset({"type", "role", "id", "tool_use_id", "signature", "cache_control"})


def _texts(value: Any) -> List[str]:
    """Every text string inside a content value (blocks, tool results, schemas)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, dict):
        if value.get("type") == "image":
            return ["[image]"]
        return [
            text for key, item in value.items() if key not in _NOT_TEXT for text in _texts(item)
        ]
    return []


def count_tokens(value: Any) -> int:
    """The emulator's token count: words."""
    return sum(len(text.split()) for text in _texts(value))


def _blocks(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    content = message["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def reply_text(messages: Sequence[Dict[str, Any]]) -> str:
    """The deterministic text answering a conversation."""
    users = [m for m in messages if m["role"] == "user"]
    last = _blocks(users[-1]) if users else []
    results = [b for b in last if b.get("type") == "tool_result"]
    if results:
        quoted = "; ".join(" ".join(_texts(b.get("content"))) for b in results)
        return f"Tool results ✓ — {quoted} — merci 🚀"
    said = " ".join(b["text"] for b in last if b.get("type") == "text")
    turns = sum(1 for m in users if any(b.get("type") == "text" for b in _blocks(m)))
    return f"Claude émulé ✓ — turn {turns}: «{said}» 日本語 🚀"


def _last_user_text(messages: Sequence[Dict[str, Any]]) -> str:
    users = [m for m in messages if m["role"] == "user"]
    if not users:
        return ""
    return " ".join(b["text"] for b in _blocks(users[-1]) if b.get("type") == "text")


def tool_arguments(schema: Dict[str, Any]) -> Dict[str, Any]:
    """Arguments for a tool call, made from its input schema."""
    made: Dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("type")
        if spec.get("enum"):
            made[name] = spec["enum"][0]
        elif kind == "integer":
            made[name] = 1
        elif kind == "number":
            made[name] = 1.5
        elif kind == "boolean":
            made[name] = True
        elif kind == "array":
            made[name] = []
        elif kind == "object":
            made[name] = {}
        else:
            made[name] = f"{name} ✓"
    return made


def tool_calls(body: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The tool_use blocks the emulator answers with (empty: a text answer)."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    if not tools or choice["type"] == "none":
        return []
    said = _last_user_text(body["messages"])
    if choice["type"] == "tool":
        chosen = [t for t in tools if t["name"] == choice["name"]]
    else:
        chosen = [t for t in tools if re.search(rf"\b{re.escape(t['name'])}\b", said)]
        if not chosen and choice["type"] == "any":
            chosen = tools[:1]
    if choice.get("disable_parallel_tool_use"):
        chosen = chosen[:1]
    return [
        {
            "type": "tool_use",
            "id": f"toolu_emu_{index}_{hashlib.sha256(said.encode()).hexdigest()[:8]}",
            "name": tool["name"],
            "input": tool_arguments(tool["input_schema"]),
        }
        for index, tool in enumerate(chosen)
    ]


def _words(text: str) -> List[str]:
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


class Answer:
    """What the emulator answers to a valid body: blocks, stop reason, usage."""

    def __init__(self, body: Dict[str, Any], cached: Dict[str, Any]) -> None:
        messages = body["messages"]
        said = _last_user_text(messages)
        thinking = (body.get("thinking") or {}).get("type") == "enabled"
        self.thinking: List[str] = []
        self.redacted = thinking and REDACTED_TRIGGER in said
        if thinking and not self.redacted:
            self.thinking = _words(f"The user said «{said}»; a short, kind answer ✓.")
        calls = tool_calls(body)
        text = reply_text(messages)
        if calls:
            text = "Calling " + ", ".join(call["name"] for call in calls) + " ✓"
        self.stop_reason, self.stop_sequence = ("tool_use" if calls else "end_turn"), None
        found = [(text.find(s), s) for s in body.get("stop_sequences") or () if s and s in text]
        if found:
            at, sequence = min(found)
            text, calls = text[:at], []
            self.stop_reason, self.stop_sequence = "stop_sequence", sequence
        self.text = _words(text)
        room = body["max_tokens"] - len(self.thinking) - (1 if self.redacted else 0)
        call_tokens = sum(len(json.dumps(call["input"]).split()) + 1 for call in calls)
        if len(self.text) + call_tokens > room:
            self.text, calls = self.text[: max(0, room)], []
            self.stop_reason, self.stop_sequence = "max_tokens", None
        self.calls = calls
        self.output_tokens = (
            len(self.thinking) + (1 if self.redacted else 0) + len(self.text) + call_tokens
        )
        self.usage = self._input_usage(body, cached)

    @staticmethod
    def _input_usage(body: Dict[str, Any], cached: Dict[str, Any]) -> Dict[str, int]:
        total = count_tokens([body.get("system"), body.get("tools"), body["messages"]])
        marked = [b for b in (body.get("tools") or []) if "cache_control" in b]
        system = body.get("system")
        if isinstance(system, list):
            marked += [b for b in system if "cache_control" in b]
        usage = {"input_tokens": total, "cache_creation_input_tokens": 0}
        usage["cache_read_input_tokens"] = 0
        if marked:
            prefix = [system, body.get("tools")]
            key = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
            size = count_tokens(prefix)
            usage["input_tokens"] -= size
            field = "cache_read_input_tokens" if key in cached else "cache_creation_input_tokens"
            usage[field] = size
            cached[key] = True
        return usage

    def content(self) -> List[Dict[str, Any]]:
        """The answer's content blocks, whole (for ``stream: false``)."""
        blocks: List[Dict[str, Any]] = []
        if self.redacted:
            blocks.append({"type": "redacted_thinking", "data": _redacted_data()})
        if self.thinking:
            text = "".join(self.thinking)
            signature = sign("thinking", text)
            blocks.append({"type": "thinking", "thinking": text, "signature": signature})
        if self.text:
            blocks.append({"type": "text", "text": "".join(self.text)})
        return blocks + self.calls

    def message(self, model: str, usage: Dict[str, int]) -> Dict[str, Any]:
        return {
            "id": "msg_emu_01",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }

    def events(self, model: str) -> List[bytes]:
        """The answer as Server-Sent Events."""
        start = {**self.usage, "output_tokens": 1}
        events = [
            _event("message_start", {"message": self.message(model, start)}),
            _event("ping", {}),
        ]
        for index, block in enumerate(self.content()):
            events += _block_events(index, block, self)
        events.append(
            _event(
                "message_delta",
                {
                    "delta": {"stop_reason": self.stop_reason, "stop_sequence": self.stop_sequence},
                    "usage": {"output_tokens": self.output_tokens},
                },
            )
        )
        events.append(_event("message_stop", {}))
        return events


def _block_events(index: int, block: Dict[str, Any], answer: Answer) -> List[bytes]:
    kind = block["type"]
    empty = {
        "text": {"type": "text", "text": ""},
        "thinking": {"type": "thinking", "thinking": "", "signature": ""},
        "tool_use": {**block, "input": {}},
        "redacted_thinking": block,
    }[kind]
    events = [_event("content_block_start", {"index": index, "content_block": empty})]

    def delta(value: Dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"index": index, "delta": value})

    if kind == "text":
        events += [delta({"type": "text_delta", "text": word}) for word in answer.text]
    elif kind == "thinking":
        events += [delta({"type": "thinking_delta", "thinking": w}) for w in answer.thinking]
        events.append(delta({"type": "signature_delta", "signature": block["signature"]}))
    elif kind == "tool_use":
        arguments = json.dumps(block["input"], ensure_ascii=False)
        pieces = [""] + [arguments[i : i + 7] for i in range(0, len(arguments), 7)]
        events += [delta({"type": "input_json_delta", "partial_json": p}) for p in pieces]
    events.append(_event("content_block_stop", {"index": index}))
    return events


def _event(name: str, data: Dict[str, Any]) -> bytes:
    payload = json.dumps({"type": name, **data}, ensure_ascii=False)
    return f"event: {name}\ndata: {payload}\n\n".encode()


# --- the app -------------------------------------------------------------------------------


class _Emulator:
    def __init__(self, keys: ApiKeys, error_event: Optional[str], awkward: bool) -> None:
        self.keys = keys
        self.error_event = error_event
        self.awkward = awkward
        self.cached: Dict[str, Any] = {}

    def refused(self, request: web.Request) -> Optional[web.Response]:
        problem = self.keys.check(request.headers.get("x-api-key"))
        if problem == MISSING:
            return error_response(401, "x-api-key header is required")
        if problem == INVALID:
            return error_response(401, "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if version is None:
            return error_response(400, "anthropic-version: header is required")
        if version != API_VERSION:
            return error_response(400, f"anthropic-version: invalid version {version!r}")
        return None

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await read_logged_json(request)
        refused = self.refused(request)
        if refused is not None:
            return refused
        if body is None:
            return error_response(400, "There was an error parsing the body of your request")
        try:
            validate(body)
        except Invalid as invalid:
            return error_response(invalid.status, str(invalid))
        faults = request.app[FAULTS]
        if faults.status is not None:
            kind = ERROR_TYPES.get(faults.status, "api_error")
            headers = {"retry-after": faults.retry_after} if faults.retry_after else None
            return error_response(
                faults.status, ERROR_MESSAGES.get(kind, "scripted failure"), headers
            )
        answer = Answer(body, self.cached)
        record_reply(request, "".join(answer.text))
        if not body.get("stream"):
            usage = {**answer.usage, "output_tokens": answer.output_tokens}
            message = answer.message(body["model"], usage)
            message.update(
                content=answer.content(),
                stop_reason=answer.stop_reason,
                stop_sequence=answer.stop_sequence,
            )
            return web.json_response(message, headers={"request-id": "req_emu"})
        return await self.stream(request, answer.events(body["model"]))

    async def stream(self, request: web.Request, events: List[bytes]) -> web.StreamResponse:
        faults = request.app[FAULTS]
        if self.error_event or faults.truncate:
            events = events[: len(events) // 2]
        if self.error_event:
            message = ERROR_MESSAGES.get(self.error_event, "scripted failure")
            events.append(
                _event("error", {"error": {"type": self.error_event, "message": message}})
            )
        data = b"".join(events)
        if faults.drop:
            data = data[: len(data) // 2 + 5]  # in the middle of an event
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "request-id": "req_emu",
            }
        )
        await response.prepare(request)
        sizes = None if self.awkward or faults.drop else [len(event) for event in events]
        await stream_body(request, response, data, sizes=sizes)
        return response


def create_app(
    *,
    keys: Optional[Sequence[str]] = None,
    require_key: bool = False,
    error_event: Optional[str] = None,
    awkward: bool = True,
    **faults: Any,
) -> web.Application:
    """The emulator app; without arguments it behaves like the healthy API.

    Auth: with ``keys`` only ``x-api-key: <one of keys>`` passes; with ``require_key``
    any non-empty key; by default no key or any non-empty key (so offline runs need no
    key).  ``faults`` (``chatplug.emulator_kit.Faults``): ``status`` answers every valid
    request with that HTTP status in Anthropic's error shape (429 ``rate_limit_error``, 529
    ``overloaded_error``...), with ``Retry-After: retry_after`` when given; ``truncate``
    ends the body cleanly halfway (no ``message_stop``); ``drop`` resets the connection in
    the middle of an event; ``delay`` sleeps between writes.  ``error_event`` (an error type
    such as ``overloaded_error``) sends an ``error`` event halfway through the stream and
    ends it; ``awkward=False`` writes one event at a time.
    """
    emulator = _Emulator(ApiKeys(keys, require_key), error_event, awkward)
    app = emulator_app(Faults(**faults))
    app.router.add_post("/v1/messages", emulator.messages)
    return app


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``python -m chatplug_anthropic.emulator [--host H] [--port P]``."""
    emulator_main("Anthropic emulator", create_app, port=8765, argv=argv)


if __name__ == "__main__":
    main()


__all__ = [
    "DISCONNECTS",
    "REDACTED_TRIGGER",
    "REQUESTS",
    "Answer",
    "create_app",
    "reply_text",
    "sign",
    "tool_arguments",
    "tool_calls",
    "validate",
]
