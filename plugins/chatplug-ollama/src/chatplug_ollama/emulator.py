"""An offline emulator of Ollama's native API, for tests and ``--emulate``.

``create_app()`` serves, as an Ollama server does:

- ``POST /api/chat``: it validates the body (``model`` required and pulled; ``messages``
  with roles ``system``/``user``/``assistant``/``tool``, string ``content``, base64
  ``images``, tool calls with object arguments; ``tools``, ``format``, ``options``,
  ``think`` and their types; tools and thinking only for models that have them) and
  answers errors as ``{"error": "..."}``; it streams NDJSON records (``"stream"`` defaults
  to true) in awkward pieces, ending with the ``done`` record (``done_reason``,
  ``prompt_eval_count``, ``eval_count``, durations), or answers one record with
  ``"stream": false``;
- ``GET /api/tags`` (the models) and ``POST /api/show`` (a model's capabilities).

The answer is deterministic: ``Ollama émulé ✓ — turn N: «<last user text>» 日本語 🚀``,
one token per word (after tool results it quotes them).  Tool calls: with ``tools``, a
call for every tool whose name is a word of the last user message, each in its own
record, arguments as an object made from the tool's parameters.  Thinking: with
``think`` on a thinking model, ``message.thinking`` records first.
``options.num_predict`` cuts the answer (``done_reason: length``); ``options.stop`` cuts
the text before a stop sequence.  Faults are scripted with :func:`create_app`'s arguments.
``python -m chatplug_ollama.emulator --port N`` serves it alone (listen backlog 1024).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

from aiohttp import web
from chatplug.emulation import emulator_main, record_reply
from chatplug.emulator_kit import DISCONNECTS as DISCONNECTS
from chatplug.emulator_kit import FAULTS, Faults, emulator_app, read_logged_json, stream_body
from chatplug.emulator_kit import REQUESTS as REQUESTS

from .catalogue import DEFAULT_MODELS

FIELDS = frozenset(
    {"model", "messages", "tools", "format", "options", "stream", "keep_alive", "think"}
)
NUMBERS = ("temperature", "top_p", "min_p", "typical_p", "presence_penalty", "frequency_penalty")
INTEGERS = ("num_predict", "num_ctx", "top_k", "seed", "num_keep", "repeat_last_n")
CREATED_AT = "2025-01-01T00:00:00.000000Z"


class Invalid(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Invalid(message)


def model_capabilities(models: Dict[str, Sequence[str]], name: str) -> Optional[Sequence[str]]:
    """The capabilities of a served model (``name`` with or without ``:latest``)."""
    return models.get(name if ":" in name else name + ":latest")


def validate(body: Any, models: Dict[str, Sequence[str]]) -> Sequence[str]:
    """Raise :class:`Invalid` for a body Ollama refuses; the model's capabilities."""
    _require(isinstance(body, dict), "invalid request body")
    model = body.get("model")
    _require(isinstance(model, str) and bool(model), "model is required")
    extra = sorted(set(body) - FIELDS)
    _require(not extra, f"json: unknown field {extra[0]!r}" if extra else "")
    capabilities = model_capabilities(models, model)
    if capabilities is None:
        raise Invalid(f'model "{model}" not found, try pulling it first', 404)
    messages = body.get("messages")
    _require(isinstance(messages, list), "messages must be an array")
    for index, message in enumerate(messages):
        _message(message, index)
    tools = body.get("tools")
    if tools is not None:
        _require(isinstance(tools, list), "tools must be an array")
        for tool in tools:
            function = tool.get("function") if isinstance(tool, dict) else None
            _require(
                isinstance(function, dict) and isinstance(function.get("name"), str),
                "tools: each tool needs a function with a name",
            )
        _require(
            not tools or "tools" in capabilities,
            f"registry.ollama.ai/library/{model} does not support tools",
        )
    fmt = body.get("format")
    _require(fmt in (None, "", "json") or isinstance(fmt, dict), f"invalid format: {fmt!r}")
    think = body.get("think")
    _require(
        think is None or isinstance(think, bool) or think in ("low", "medium", "high"),
        "think must be a boolean or one of low, medium, high",
    )
    _require(not think or "thinking" in capabilities, f'"{model}" does not support thinking')
    _require(isinstance(body.get("stream", True), bool), "stream must be a boolean")
    _options(body.get("options"))
    return capabilities


def _message(message: Any, index: int) -> None:
    _require(isinstance(message, dict), f"messages[{index}] must be an object")
    role = message.get("role")
    _require(
        role in ("system", "user", "assistant", "tool"),
        f'invalid role "{role}", role must be one of [system, user, assistant, tool]',
    )
    _require(
        isinstance(message.get("content", ""), str),
        "json: cannot unmarshal array into Go struct field Message.messages.content of type string",
    )
    for image in message.get("images") or ():
        try:
            base64.b64decode(image, validate=True)
        except (ValueError, TypeError):
            raise Invalid("illegal base64 data in images") from None
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        _require(
            isinstance(function, dict) and isinstance(function.get("name"), str),
            "tool_calls: each call needs a function with a name",
        )
        assert isinstance(function, dict)
        _require(
            isinstance(function.get("arguments", {}), dict),
            "json: cannot unmarshal string into Go struct field ToolCallFunction."
            "messages.tool_calls.function.arguments of type api.ToolCallFunctionArguments",
        )


def _options(options: Any) -> None:
    if options is None:
        return
    _require(isinstance(options, dict), "options must be an object")
    for name in NUMBERS:
        value = options.get(name)
        _require(
            value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)),
            f"option {name!r} must be of type float",
        )
    for name in INTEGERS:
        value = options.get(name)
        _require(
            value is None or (isinstance(value, int) and not isinstance(value, bool)),
            f"option {name!r} must be of type integer",
        )
    stop = options.get("stop")
    _require(
        stop is None or (isinstance(stop, list) and all(isinstance(s, str) for s in stop)),
        "option 'stop' must be an array of strings",
    )


# --- the answer --------------------------------------------------------------------------


def reply_text(messages: Sequence[Dict[str, Any]]) -> str:
    """The deterministic text answering a conversation."""
    tail: List[str] = []
    for message in reversed(messages):  # tool results after the last assistant turn
        if message.get("role") != "tool":
            break
        tail.insert(0, str(message.get("content", "")))
    if tail:
        return f"Tool results ✓ — {'; '.join(tail)} — merci 🚀"
    users = [m for m in messages if m.get("role") == "user"]
    said = users[-1].get("content", "") if users else ""
    return f"Ollama émulé ✓ — turn {len(users)}: «{said}» 日本語 🚀"


def tool_arguments(parameters: Any) -> Dict[str, Any]:
    """Arguments for a call, made from the tool's JSON Schema parameters."""
    made: Dict[str, Any] = {}
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    defaults = {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}
    for name, spec in (properties or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        if spec.get("enum"):
            made[name] = spec["enum"][0]
        else:
            made[name] = defaults.get(str(spec.get("type")), f"{name} ✓")
    return made


def tool_calls(body: Dict[str, Any]) -> List[Dict[str, Any]]:
    messages = body.get("messages") or []
    if not messages or messages[-1].get("role") != "user":
        return []
    said = str(messages[-1].get("content", ""))
    return [
        {"function": {"name": f["name"], "arguments": tool_arguments(f.get("parameters"))}}
        for f in (tool["function"] for tool in body.get("tools") or ())
        if re.search(rf"\b{re.escape(f['name'])}\b", said)
    ]


def _words(text: str) -> List[str]:
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def answer(body: Dict[str, Any]) -> Dict[str, Any]:
    """The answer to a valid body: thinking and text pieces, calls, reason, counts."""
    messages = body.get("messages") or []
    options = body.get("options") or {}
    users = [m for m in messages if m.get("role") == "user"]
    said = users[-1].get("content", "") if users else ""
    thinking = _words(f"The user said «{said}» ✓.") if body.get("think") else []
    calls = tool_calls(body)
    text = "" if calls else reply_text(messages)  # a call comes without text
    reason = "stop"
    found = [(text.find(s), s) for s in options.get("stop") or () if s and s in text]
    if found:
        text, calls = text[: min(found)[0]], []
    pieces = _words(text)
    limit = options.get("num_predict")
    if isinstance(limit, int) and 0 <= limit < len(thinking) + len(pieces) + len(calls):
        pieces, calls = pieces[: max(0, limit - len(thinking))], []
        reason = "length"
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
    return {
        "thinking": thinking,
        "pieces": pieces,
        "calls": calls,
        "reason": reason,
        "prompt_eval_count": prompt,
        "eval_count": len(thinking) + len(pieces) + len(calls),
    }


def _record(model: str, message: Dict[str, Any], **fields: Any) -> Dict[str, Any]:
    return {
        "model": model,
        "created_at": CREATED_AT,
        "message": {"role": "assistant", "content": "", **message},
        "done": False,
        **fields,
    }


def _done_fields(result: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "done": True,
        "done_reason": result["reason"],
        "total_duration": 1_000_000,
        "load_duration": 100_000,
        "prompt_eval_count": result["prompt_eval_count"],
        "prompt_eval_duration": 200_000,
        "eval_count": result["eval_count"],
        "eval_duration": 700_000,
    }


def records(model: str, result: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The streamed records of an answer."""
    lines = [_record(model, {"thinking": piece}) for piece in result["thinking"]]
    lines += [_record(model, {"content": piece}) for piece in result["pieces"]]
    lines += [_record(model, {"tool_calls": [call]}) for call in result["calls"]]
    lines.append(_record(model, {}, **_done_fields(result)))
    return lines


# --- the app -------------------------------------------------------------------------------


def _error(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class _Emulator:
    def __init__(self, models: Dict[str, Sequence[str]], error_event: Optional[str]) -> None:
        self.models = models
        self.error_event = error_event

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await read_logged_json(request)
        if body is None:
            return _error(400, "invalid character in request body")
        try:
            validate(body, self.models)
        except Invalid as invalid:
            return _error(invalid.status, str(invalid))
        faults = request.app[FAULTS]
        if faults.status is not None:
            headers = {"Retry-After": faults.retry_after} if faults.retry_after else None
            return _error(faults.status, "server busy, please try again", headers)
        result = answer(body)
        record_reply(request, "".join(result["pieces"]))
        lines = records(body["model"], result)
        if not body.get("stream", True):
            message: Dict[str, Any] = {"role": "assistant", "content": "".join(result["pieces"])}
            if result["thinking"]:
                message["thinking"] = "".join(result["thinking"])
            if result["calls"]:
                message["tool_calls"] = result["calls"]
            return web.json_response(_record(body["model"], message, **_done_fields(result)))
        return await self.stream(request, lines)

    async def stream(self, request: web.Request, lines: List[Dict[str, Any]]) -> web.StreamResponse:
        faults = request.app[FAULTS]
        if self.error_event or faults.truncate:
            lines = lines[: len(lines) // 2]
        if self.error_event:
            lines.append({"error": self.error_event})
        data = b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
        if faults.drop:
            data = data[: len(data) // 2 + 5]  # in the middle of a record
        response = web.StreamResponse(
            headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        await stream_body(request, response, data)
        return response

    async def tags(self, request: web.Request) -> web.Response:
        models = [
            {
                "name": name,
                "model": name,
                "modified_at": CREATED_AT,
                "size": 2_000_000_000,
                "digest": "0" * 64,
                "details": {"format": "gguf", "family": name.split(":")[0]},
            }
            for name in self.models
        ]
        return web.json_response({"models": models})

    async def show(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid character in request body")
        name = body.get("model") if isinstance(body, dict) else None
        capabilities = model_capabilities(self.models, name) if isinstance(name, str) else None
        if capabilities is None:
            return _error(404, f"model '{name}' not found")
        return web.json_response(
            {"details": {"format": "gguf"}, "capabilities": ["completion", *capabilities]}
        )


def create_app(
    *,
    models: Optional[Mapping[str, Sequence[str]]] = None,
    error_event: Optional[str] = None,
    **faults: Any,
) -> web.Application:
    """The emulator app; without arguments it behaves like a healthy server.

    ``models``: the pulled models, ``{"name:tag": [capabilities]}`` (default: the plugin's
    built-in catalogue, tagged ``:latest``).  ``faults`` (``chatplug.emulator_kit.Faults``):
    ``status`` answers every valid chat request with that HTTP status (``Retry-After:
    retry_after`` when given); ``truncate`` ends the body halfway without the done record;
    ``drop`` resets the connection in the middle of a record; ``delay`` sleeps between
    writes.  ``error_event`` sends ``{"error": error_event}`` halfway through the stream and
    ends it.
    """
    if models is None:
        models = {f"{name}:latest": caps for name, caps in DEFAULT_MODELS}
    emulator = _Emulator(dict(models), error_event)
    app = emulator_app(Faults(**faults))
    app.router.add_post("/api/chat", emulator.chat)
    app.router.add_get("/api/tags", emulator.tags)
    app.router.add_post("/api/show", emulator.show)
    return app


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``python -m chatplug_ollama.emulator [--host H] [--port P]``."""
    emulator_main("Ollama emulator", create_app, port=11434, argv=argv)


if __name__ == "__main__":
    main()


__all__ = ["DISCONNECTS", "REQUESTS", "answer", "create_app", "records", "reply_text", "validate"]
