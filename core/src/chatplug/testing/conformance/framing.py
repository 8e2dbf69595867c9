"""The events of an emulator's body (Server-Sent Events or newline-delimited JSON), and the
two faults the event checks inject: the final event dropped, one event malformed.

The body is split at event boundaries, byte offsets kept, so that an altered body is the
emulator's own bytes with one event removed or one character taken out: everything else
(keep-alives, comments, line endings) stays as the emulator wrote it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

SSE = "Server-Sent Events"
NDJSON = "newline-delimited JSON"
NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
    "application/json-lines",
    "application/stream+json",
)
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n|$)")
_NOT_JSON = object()


@dataclass(frozen=True)
class Event:
    """One event of a body: ``body[start:end]`` (its terminator included).

    ``data``: what it carries (an SSE event's ``data`` fields joined, an NDJSON line), or
    ``None`` for a comment or keep-alive; ``last_data``: the offset just after the last
    non-blank byte of its (last) data line, where a malformation cuts.
    """

    start: int
    end: int
    data: Optional[bytes]
    last_data: int
    value: Any = _NOT_JSON

    @property
    def is_json(self) -> bool:
        """Whether the data is a JSON object or array (what a malformation can break)."""
        return isinstance(self.value, (dict, list))

    def excerpt(self, body: bytes) -> str:
        """The event as it stands in ``body``, shortened for a message."""
        return excerpt(body[self.start : self.end])


@dataclass(frozen=True)
class Framing:
    """How a body is framed (``kind``: :data:`SSE` or :data:`NDJSON`) and its events."""

    kind: str
    events: Tuple[Event, ...]

    @property
    def carrying(self) -> List[Event]:
        """The events that carry data (not comments, keep-alives or pings without data)."""
        return [event for event in self.events if event.data is not None]


def excerpt(data: bytes, size: int = 100) -> str:
    """``data`` as text for a message, at most ``size`` characters."""
    text = data.decode("utf-8", "replace").strip()
    return text if len(text) <= size else text[:size] + "…"


def framing_of(body: bytes, content_type: str = "") -> Optional[Framing]:
    """The framing of ``body`` (by its content type, else by its look), ``None`` for
    another format (plain text, one JSON document...)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/event-stream":
        return Framing(SSE, tuple(_sse_events(body)))
    if media in NDJSON_TYPES:
        return Framing(NDJSON, tuple(_ndjson_events(body)))
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if any(line.startswith(b"data:") for line in lines):
        return Framing(SSE, tuple(_sse_events(body)))
    events = _ndjson_events(body)
    if len(lines) > 1 and sum(event.is_json for event in events) > 1:
        return Framing(NDJSON, tuple(events))
    return None


def _lines(body: bytes) -> List[Tuple[int, int, bytes]]:
    """``(start, end, content)`` of each line; ``end`` is after its line break."""
    found = []
    for match in _LINE.finditer(body):
        if match.start() == match.end():
            break
        found.append((match.start(), match.end(), match.group().rstrip(b"\r\n")))
    return found


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return _NOT_JSON


def _sse_events(body: bytes) -> List[Event]:
    events: List[Event] = []
    start: Optional[int] = None
    data: List[bytes] = []
    has_data = False
    last_data = 0

    def close(end: int) -> None:
        nonlocal start, data, has_data
        if start is not None:
            joined = b"\n".join(data) if has_data else None
            value = _json(joined) if joined is not None else _NOT_JSON
            events.append(Event(start, end, joined, last_data, value))
        start, data, has_data = None, [], False

    for line_start, line_end, content in _lines(body):
        if not content:
            close(line_end)
            continue
        if start is None:
            start = line_start
        if content.startswith(b"data:") or content == b"data":
            value = content[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
            has_data = True
            last_data = line_start + len(content.rstrip())
    close(len(body))
    return events


def _ndjson_events(body: bytes) -> List[Event]:
    events = []
    for line_start, line_end, content in _lines(body):
        stripped = content.strip()
        if not stripped:
            continue
        value = _json(stripped)
        data = stripped if value is not _NOT_JSON else None  # keep-alives carry nothing
        events.append(Event(line_start, line_end, data, line_start + len(content.rstrip()), value))
    return events


def without_final_event(body: bytes, framing: Framing) -> Tuple[bytes, Event]:
    """``body`` cut at the start of its last event that carries data (the end marker, or
    the finish): a well-formed body that ends at an event boundary."""
    final = framing.carrying[-1]
    return body[: final.start], final


def malformed_event(body: bytes, framing: Framing) -> Optional[Tuple[bytes, Event]]:
    """``body`` with one JSON event in the middle made invalid JSON (the last character
    of its data taken out: an object without its closing brace), and that event (as it was);
    ``None`` when the body has no JSON event before its last one.  In the altered body the
    event spans ``start`` to ``end - 1``."""
    carrying = framing.carrying
    candidates = [event for event in carrying[:-1] if event.is_json]
    if not candidates:
        return None
    event = candidates[len(candidates) // 2]
    cut = event.last_data
    return body[: cut - 1] + body[cut:], event
