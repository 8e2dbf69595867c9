"""An offline emulator of the upstream, for tests and ``chatplug chat --emulate``.

``create_app()`` serves ``POST /v1/chat`` like the real upstream and rejects what it would
reject (HTTP 400 with a JSON ``{"error": ...}`` saying what is wrong): a body that is not a
JSON object, unknown fields, an unknown model, an empty prompt.  The answer is
newline-delimited JSON (``{"text": ...}`` lines, then ``{"done": true}``) written in awkward
pieces that split UTF-8 characters and lines, as a real network does.  The reply is
deterministic (``Hello from the <title> emulator ✓ — you said: <last line of the prompt>``)
and it is recorded with ``chatplug.emulation.record_reply`` for the conformance suite.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

from aiohttp import web
from chatplug.emulation import record_reply, write_awkwardly

CHAT_PATH = "/v1/chat"
PROVIDER = "legacy-acme"
TITLE = "Legacy Acme"
MODELS = (PROVIDER + "-chat", PROVIDER + "-chat-large")
FIELDS = frozenset({"model", "prompt", "temperature", "system"})
#: characters of the reply per NDJSON line
PIECE = 5


def create_app() -> web.Application:
    """The emulator app (registered in the ``chatplug.emulators`` entry-point group)."""
    app = web.Application()
    app.router.add_post(CHAT_PATH, chat)
    return app


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def problem(body: Any) -> "str | None":
    """What is wrong with a request body, or ``None`` when the upstream would accept it."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        return f"unknown fields: {', '.join(unknown)}"
    if body.get("model") not in MODELS:
        return f"unknown model {body.get('model')!r}; expected one of {', '.join(MODELS)}"
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt must be a non-empty string"
    temperature = body.get("temperature", 1.0)
    if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        return "temperature must be a number from 0 to 2"
    if "system" in body and not isinstance(body["system"], str):
        return "system must be a string"
    return None


def reply_text(prompt: str) -> str:
    """The emulator's deterministic reply to ``prompt``."""
    lines = [line.strip() for line in prompt.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[-1] == "Assistant:":
        lines.pop()
    last = lines[-1] if lines else ""
    for role in ("User:", "System:", "Assistant:"):
        if last.startswith(role):
            last = last[len(role) :].strip()
    return f"Hello from the {TITLE} emulator ✓ — you said: {last}"


def render(text: str) -> bytes:
    """The NDJSON body streaming ``text``."""
    lines: List[Dict[str, Any]] = [
        {"text": text[i : i + PIECE]} for i in range(0, len(text), PIECE)
    ]
    lines.append({"done": True})
    return b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)


async def chat(request: web.Request) -> web.StreamResponse:
    try:
        body = json.loads(await request.read())
    except ValueError:
        return _error("the body is not valid JSON")
    wrong = problem(body)
    if wrong is not None:
        return _error(wrong)
    text = reply_text(body["prompt"])
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson; charset=utf-8"})
    await response.prepare(request)
    record_reply(request, text)
    await write_awkwardly(response, render(text))
    await response.write_eof()
    return response
