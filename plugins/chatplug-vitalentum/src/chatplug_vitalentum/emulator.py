"""An emulator of Vitalentum's ``POST /api/converse-edge``, for tests and ``--emulate``.

``create_app()`` serves the endpoint as the real service does: Server-Sent Events with
OpenAI-style chunks ending with ``data: [DONE]``, written in deliberately awkward pieces
(UTF-8 characters and events split across writes, several events coalesced in one).  It
rejects what the real service would reject: another path (404), another method (405), a
body that is not the expected JSON (400 with a JSON error).  It also rejects fields the
upstream does not understand (``stream``, ``model``...), so that a client leaking options
is caught.  The reply is deterministic and reflects the request::

    Hello from the Vitalentum emulator ✓ — you said: <last human text> (turn <n>)

Tests read what arrived from ``app[REQUESTS]`` and the replies from
``chatplug.emulation.REPLIES``; the keyword arguments of :func:`create_app` script
failures (an HTTP error, a truncated or dropped stream, slow writes: see
``chatplug.emulator_kit``, which holds the request log, the fault script and the writing).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

from aiohttp import web
from chatplug.emulation import record_reply
from chatplug.emulator_kit import DISCONNECTS as DISCONNECTS
from chatplug.emulator_kit import (
    FAULTS,
    Faults,
    emulator_app,
    read_logged_json,
    scripted_error,
    stream_body,
)
from chatplug.emulator_kit import REQUESTS as REQUESTS
from chatplug.emulator_kit import write_sizes as write_sizes

PATH = "/api/converse-edge"
#: the fields the upstream accepts in the request body
FIELDS = frozenset(
    {"conversation", "temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty"}
)


def create_app(**faults: Any) -> web.Application:
    """The emulator app; without arguments it behaves like the healthy service.

    ``faults`` script failures (``chatplug.emulator_kit.Faults``): ``status``,
    ``error_body``, ``retry_after``; ``truncate`` ends the body cleanly after half of the
    events, without ``[DONE]``; ``drop`` resets the connection in the middle of an event;
    ``delay`` sleeps between writes.
    """
    app = emulator_app(Faults(**faults))
    app.router.add_post(PATH, converse)
    return app


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _history(body: Any) -> "List[Dict[str, str]] | str":
    """The validated history, or the error message for a 400."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        return f"unknown field {unknown[0]!r}"
    conversation = body.get("conversation")
    if not isinstance(conversation, str):
        return "'conversation' must be a JSON string"
    for name in FIELDS - {"conversation"}:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{name!r} must be a number"
    try:
        history = json.loads(conversation).get("history")
    except (ValueError, AttributeError):
        return "'conversation' must encode a JSON object with a 'history'"
    if not isinstance(history, list) or not history:
        return "'history' must be a non-empty list"
    for turn in history:
        if not (
            isinstance(turn, dict)
            and turn.get("speaker") in ("human", "bot")
            and isinstance(turn.get("text"), str)
        ):
            return "each turn must be {'speaker': 'human'|'bot', 'text': string}"
    if not any(turn["speaker"] == "human" for turn in history):
        return "the history has no human turn"
    return history


def reply_text(history: List[Dict[str, str]]) -> str:
    """The emulator's deterministic reply to ``history``."""
    human = [turn["text"] for turn in history if turn["speaker"] == "human"]
    return f"Hello from the Vitalentum emulator ✓ — you said: {human[-1]} (turn {len(human)})"


def _event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def _chunk(delta: Dict[str, str], finish: Optional[str] = None) -> bytes:
    return _event(
        {
            "id": "chatcmpl-emulator",
            "object": "chat.completion.chunk",
            "model": "gpt-3.5-turbo",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def stream_events(text: str) -> List[bytes]:
    """The SSE events streaming ``text``, with the keep-alives and empty deltas of the real one."""
    pieces = re.findall(r"\S+\s*", text)
    events = [_chunk({"role": "assistant"}), b": keep-alive\n\n"]
    for index, piece in enumerate(pieces):
        events.append(_chunk({"content": piece}))
        if index == 1:
            events.append(b"event: ping\n\n")
            events.append(_chunk({"content": ""}))
    events.append(_chunk({}, finish="stop"))
    return events


async def converse(request: web.Request) -> web.StreamResponse:
    body = await read_logged_json(request)
    if body is None:
        return _bad_request("the body must be JSON")
    history = _history(body)
    if isinstance(history, str):
        return _bad_request(history)
    failure = scripted_error(request, json.dumps({"error": "scripted failure"}))
    if failure is not None:
        return failure

    faults = request.app[FAULTS]
    reply = reply_text(history)
    events = stream_events(reply)
    if faults.truncate:
        events = events[: len(events) // 2]
    else:
        events.append(b"data: [DONE]\n\n")
    record_reply(request, reply)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    data = b"".join(events)
    head = len(b"".join(events[:3]))
    tail = 0 if faults.truncate else len(b"".join(events[-2:]))
    if faults.drop:
        data, tail = data[: len(data) // 2 + 5], 0
    await stream_body(request, response, data, sizes=write_sizes(data, head, tail))
    return response
