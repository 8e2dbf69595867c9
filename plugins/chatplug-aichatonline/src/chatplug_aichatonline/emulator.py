"""An offline emulator of the AiChatOnline upstream (both endpoints), for tests and ``--emulate``.

``create_app()`` returns an :class:`aiohttp.web.Application` that behaves like the real
API base ``https://aichatonlineorg.erweima.ai``:

- ``GET /api/v1/user/getUniqueId?canvas=-<random>`` issues a UniqueId
  (``{"code": 200, "message": "success", "data": "<id>"}``); without ``canvas``: 400.
- ``POST /aichatonline/api/chat/gpt`` requires a ``UniqueId`` header the emulator issued
  (missing or unknown: 401) and a JSON object body with non-empty string
  ``conversationId`` and ``prompt`` (otherwise 400).  It streams newline-delimited JSON:
  the reply's text in pieces at ``data.message``, with keep-alive and status lines
  interleaved, written in awkward pieces that split UTF-8 characters and lines.
- Any other path: 404; another method: 405.

The reply is deterministic and reflects the request: ``Hello from the AiChatOnline emulator
✓ — you said: <last line of the prompt> (turn N)``, N being the number of ``User:`` lines
of the rendered prompt (at least 1).  Every request is logged in ``app[REQUESTS]`` (the
body as bytes); the ids issued are ``app[UNIQUE_IDS]`` (clear it to make every id stale);
each stream's end is logged in ``app[STREAM_ENDS]`` (``"complete"`` or
``"disconnected"``).  The logs and the writing come from ``chatplug.emulator_kit``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, Iterable, List, Set

from aiohttp import web
from chatplug.emulation import AWKWARD_SIZES, record_reply
from chatplug.emulator_kit import (
    REQUESTS,
    STREAM_ENDS,
    Faults,
    emulator_app,
    log_request,
    stream_body,
)

UNIQUE_ID_PATH = "/api/v1/user/getUniqueId"
CHAT_PATH = "/aichatonline/api/chat/gpt"

UNIQUE_IDS = web.AppKey("aichatonline.unique_ids", Set[str])
_OPTIONS = web.AppKey("aichatonline.options", Dict[str, Any])

#: how many characters of the reply go into one NDJSON line
PIECE_SIZE = 6


def create_app(
    *,
    delay: float = 0.0,
    sizes: Iterable[int] = AWKWARD_SIZES,
    keepalives: bool = True,
) -> web.Application:
    """The emulator app.  Arguments are for tests: ``delay`` seconds between writes,
    ``sizes`` of the writes, ``keepalives=False`` to stream text lines only."""
    app = emulator_app(Faults(delay=delay))
    app[UNIQUE_IDS] = set()
    app[_OPTIONS] = {"sizes": tuple(sizes), "keepalives": keepalives}
    app.router.add_get(UNIQUE_ID_PATH, unique_id)
    app.router.add_post(CHAT_PATH, chat)
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message, "data": None}, status=status)


async def unique_id(request: web.Request) -> web.Response:
    log_request(request, None)
    canvas = request.query.get("canvas")
    if not canvas:
        return _error(400, "canvas is required")
    issued = uuid.uuid4().hex
    request.app[UNIQUE_IDS].add(issued)
    return web.json_response({"code": 200, "message": "success", "data": issued})


async def chat(request: web.Request) -> web.StreamResponse:
    raw = await request.read()
    log_request(request, raw)
    given = request.headers.get("UniqueId")
    if not given:
        return _error(401, "UniqueId is required")
    if given not in request.app[UNIQUE_IDS]:
        return _error(401, "UniqueId is invalid or expired")
    try:
        body = json.loads(raw)
    except ValueError:
        return _error(400, "the body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object")
    for field in ("conversationId", "prompt"):
        value = body.get(field)
        if not isinstance(value, str) or not value.strip():
            return _error(400, f"{field} must be a non-empty string")

    text = reply_text(body["prompt"])
    options = request.app[_OPTIONS]
    data = render_stream(text, body["conversationId"], keepalives=options["keepalives"])
    response = web.StreamResponse(
        headers={"Content-Type": "application/x-ndjson; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    record_reply(request, text)
    await stream_body(request, response, data, sizes=options["sizes"])
    return response


def reply_text(prompt: str) -> str:
    """The emulator's deterministic reply to ``prompt``."""
    lines = [line.strip() for line in prompt.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[-1] == "Assistant:":
        lines.pop()
    last = lines[-1] if lines else ""
    for prefix in ("User:", "System:", "Assistant:"):
        if last.startswith(prefix):
            last = last[len(prefix) :].strip()
            break
    turn = max(1, sum(1 for line in lines if line.startswith("User:")))
    return f"Hello from the AiChatOnline emulator ✓ — you said: {last} (turn {turn})"


def render_stream(text: str, conversation_id: str, *, keepalives: bool = True) -> bytes:
    """The NDJSON body streaming ``text``, keep-alive and status lines interleaved."""

    def line(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    def status(name: str) -> bytes:
        # "message" at the top level is the API's status word, never text
        return line({"code": 200, "message": "success", "data": {"status": name}})

    parts: List[bytes] = []
    if keepalives:
        parts += [b": keep-alive\n", status("start"), b"\n"]
    pieces = [text[i : i + PIECE_SIZE] for i in range(0, len(text), PIECE_SIZE)]
    for index, piece in enumerate(pieces):
        parts.append(
            line(
                {
                    "code": 200,
                    "message": "success",
                    "data": {"message": piece, "conversationId": conversation_id},
                }
            )
        )
        if keepalives and index % 4 == 3:
            parts += [b"ping\n", b"\r\n"]
    if keepalives:
        parts.append(status("done"))
    return b"".join(parts)


__all__ = [
    "CHAT_PATH",
    "REQUESTS",
    "STREAM_ENDS",
    "UNIQUE_IDS",
    "UNIQUE_ID_PATH",
    "create_app",
    "render_stream",
    "reply_text",
]
