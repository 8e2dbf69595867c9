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
failures (an HTTP error, a truncated or dropped stream, slow writes).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any, Dict, List, Optional

from aiohttp import web
from chatplug.emulation import AWKWARD_SIZES, record_reply, write_awkwardly
from multidict import CIMultiDict

PATH = "/api/converse-edge"
#: the fields the upstream accepts in the request body
FIELDS = frozenset(
    {"conversation", "temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty"}
)

#: every request received: {"method", "path", "headers", "body", "peer"} (body: parsed JSON)
REQUESTS = web.AppKey("vitalentum.requests", list)
#: one entry per stream the client closed before its end
DISCONNECTS = web.AppKey("vitalentum.disconnects", list)
SCRIPT = web.AppKey("vitalentum.script", dict)


def create_app(
    *,
    status: Optional[int] = None,
    error_body: Optional[str] = None,
    retry_after: Optional[str] = None,
    truncate: bool = False,
    drop: bool = False,
    delay: float = 0.0,
) -> web.Application:
    """The emulator app; without arguments it behaves like the healthy service.

    ``status``: answer valid requests with this HTTP status and ``error_body`` (plus a
    ``Retry-After: retry_after`` header when given).  ``truncate``: end the body cleanly
    after half of the events, without ``[DONE]``.  ``drop``: reset the connection in the
    middle of an event.  ``delay``: seconds to sleep between writes.
    """
    app = web.Application()
    app[REQUESTS] = []
    app[DISCONNECTS] = []
    app[SCRIPT] = {
        "status": status,
        "error_body": error_body,
        "retry_after": retry_after,
        "truncate": truncate,
        "drop": drop,
        "delay": delay,
    }
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


def write_sizes(data: bytes, head: int = 0, tail: int = 0) -> List[int]:
    """Sizes of the writes of ``data``: the first ``head`` and last ``tail`` bytes in one write
    each (several events coalesced), the middle in small uneven pieces that cut every
    multi-byte UTF-8 character in two (and events anywhere)."""
    end = len(data) - tail
    cuts = {head, end, len(data)}
    cuts.update(
        itertools.takewhile(
            lambda cut: cut < end,
            itertools.accumulate(itertools.cycle(AWKWARD_SIZES), initial=head),
        )
    )
    cuts.update(i + 1 for i in range(head, end) if data[i] >= 0xC0)  # after a lead byte
    points = sorted(cut for cut in cuts if 0 < cut <= len(data))
    return [b - a for a, b in zip([0, *points], points)]


async def converse(request: web.Request) -> web.StreamResponse:
    script = request.app[SCRIPT]
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    request.app[REQUESTS].append(
        {
            "method": request.method,
            "path": request.path_qs,
            "headers": CIMultiDict(request.headers),  # names case-insensitive
            "body": body,
            "peer": request.transport.get_extra_info("peername") if request.transport else None,
        }
    )
    if body is None:
        return _bad_request("the body must be JSON")
    history = _history(body)
    if isinstance(history, str):
        return _bad_request(history)
    if script["status"] is not None:
        headers = {"Retry-After": script["retry_after"]} if script["retry_after"] else None
        text = script["error_body"] or json.dumps({"error": "scripted failure"})
        return web.Response(status=script["status"], text=text, headers=headers)

    reply = reply_text(history)
    events = stream_events(reply)
    if script["truncate"]:
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
    tail = 0 if script["truncate"] else len(b"".join(events[-2:]))
    if script["drop"]:
        data, tail = data[: len(data) // 2 + 5], 0
    try:
        await write_awkwardly(
            response, data, sizes=write_sizes(data, head, tail), delay=script["delay"]
        )
        if script["drop"]:
            assert request.transport is not None
            request.transport.abort()
    except ConnectionError:  # the client went away before the end
        request.app[DISCONNECTS].append(request.path_qs)
    return response
