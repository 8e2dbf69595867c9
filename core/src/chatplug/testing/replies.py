"""Scripted replies: what a :class:`~chatplug.testing.ScriptedUpstream` answers, byte for byte.

:class:`Reply` is one HTTP response (status, headers, the body's chunks, delays, framing and
how it ends); :class:`SSEEvent` one Server-Sent Event of :meth:`Reply.sse`;
:func:`split_bytes` and :func:`split_utf8` cut a body into chunks.  See
:mod:`chatplug.testing.upstream` for the whole API.
"""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

COMPLETE, CLOSE, RESET, HANG = "complete", "close", "reset", "hang"
ENDS = (COMPLETE, CLOSE, RESET, HANG)
CHUNKED, LENGTH, EOF = "chunked", "length", "eof"
FRAMINGS = (CHUNKED, LENGTH, EOF)


def split_bytes(data: bytes, sizes: Iterable[int]) -> List[bytes]:
    """``data`` cut into pieces of the given sizes, cycling through ``sizes``."""
    cycle = [size for size in sizes if size > 0] or [len(data) or 1]
    pieces: List[bytes] = []
    position = index = 0
    while position < len(data):
        size = cycle[index % len(cycle)]
        pieces.append(data[position : position + size])
        position += size
        index += 1
    return pieces


def split_utf8(data: bytes) -> List[bytes]:
    """``data`` cut in the middle of every multi-byte UTF-8 character (and nowhere else)."""
    cuts: List[int] = []
    position = 0
    while position < len(data):
        byte = data[position]
        width = 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 1
        if width > 1 and position + 1 < len(data):
            cuts.append(position + 1)
        position += width
    pieces: List[bytes] = []
    start = 0
    for cut in cuts:
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return [piece for piece in pieces if piece]


def _as_bytes(value: Union[str, bytes]) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _sse_data(value: Any) -> bytes:
    return _as_bytes(value if isinstance(value, str) else _json.dumps(value))


@dataclass(frozen=True)
class SSEEvent:
    """One Server-Sent Event, an item of :meth:`Reply.sse`.

    ``data``: a string, or any other value (sent as JSON); ``None`` sends no data line (an
    event such as ``event: ping`` alone).  A string with newlines is sent as one ``data:``
    line per line, as the format says.  ``event``: the event's name (the ``event: x``
    line); ``id`` and ``retry``: those fields.
    """

    data: Any = None
    event: Optional[str] = None
    id: Optional[str] = None
    retry: Optional[int] = None

    def encode(self) -> bytes:
        """The event on the wire, blank line included."""
        lines = [f"{name}: {value}".encode() for name, value in self._fields() if value is not None]
        if self.data is not None:
            lines += [b"data: " + line for line in _sse_data(self.data).split(b"\n")]
        return b"\n".join(lines) + b"\n\n"

    def _fields(self) -> Tuple[Tuple[str, Any], ...]:
        return (("event", self.event), ("id", self.id), ("retry", self.retry))


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP response (see the module docstring)."""

    status: int = 200
    chunks: Sequence[bytes] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    head_delay: float = 0.0
    end_delay: float = 0.0
    end: str = COMPLETE
    framing: str = CHUNKED
    content_length: Optional[int] = None
    raw: bool = False
    keep_alive: bool = False
    reason: Optional[str] = None

    def __post_init__(self) -> None:
        if self.end not in ENDS:
            raise ValueError(f"end must be one of {', '.join(ENDS)}, not {self.end!r}")
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}, not {self.framing!r}")
        object.__setattr__(self, "chunks", tuple(_as_bytes(chunk) for chunk in self.chunks))

    @property
    def body(self) -> bytes:
        """The chunks joined."""
        return b"".join(self.chunks)

    def but(self, **changes: Any) -> "Reply":
        """A copy with some fields changed."""
        return replace(self, **changes)

    @classmethod
    def text(
        cls,
        body: Union[str, bytes],
        *,
        sizes: Optional[Iterable[int]] = None,
        content_type: str = "text/plain; charset=utf-8",
        status: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> "Reply":
        """``body`` (cut into pieces of ``sizes``, or in one chunk)."""
        data = _as_bytes(body)
        chunks = split_bytes(data, sizes) if sizes is not None else ([data] if data else [])
        merged = {"Content-Type": content_type, **dict(headers or {})}
        return cls(status=status, chunks=chunks, headers=merged, **fields)

    @classmethod
    def json(cls, value: Any, *, status: int = 200, **fields: Any) -> "Reply":
        """A JSON document."""
        return cls.text(
            _json.dumps(value, ensure_ascii=False),
            content_type="application/json",
            status=status,
            **fields,
        )

    @classmethod
    def error(
        cls,
        status: int,
        body: Union[str, bytes] = "",
        *,
        retry_after: Optional[Union[int, float, str]] = None,
        headers: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> "Reply":
        """An HTTP error status (``retry_after`` sets the ``Retry-After`` header)."""
        merged = dict(headers or {})
        if retry_after is not None:
            merged["Retry-After"] = str(retry_after)
        data = _as_bytes(body) or f"error {status}".encode()
        return cls.text(data, status=status, headers=merged, framing=LENGTH, **fields)

    @classmethod
    def sse(
        cls, datas: Iterable[Union[str, "SSEEvent", Any]], *, done: bool = True, **fields: Any
    ) -> "Reply":
        """Server-Sent Events, one per item; then ``data: [DONE]`` (unless ``done=False``).

        An item is the data of one event (a string as is, any other value JSON-encoded), or
        an :class:`SSEEvent` for a named event (``event: x``), an ``id`` or a ``retry``.
        """
        events = [
            item.encode() if isinstance(item, SSEEvent) else b"data: " + _sse_data(item) + b"\n\n"
            for item in datas
        ]
        if done:
            events.append(b"data: [DONE]\n\n")
        fields.setdefault("headers", {"Content-Type": "text/event-stream"})
        return cls(chunks=events, **fields)

    @classmethod
    def ndjson(cls, values: Iterable[Any], **fields: Any) -> "Reply":
        """Newline-delimited JSON, one line per value."""
        lines = [_json.dumps(value, ensure_ascii=False).encode() + b"\n" for value in values]
        fields.setdefault("headers", {"Content-Type": "application/x-ndjson"})
        return cls(chunks=lines, **fields)

    @classmethod
    def truncated(
        cls,
        body: Union[str, bytes],
        at: int,
        *,
        end: str = CLOSE,
        sizes: Optional[Iterable[int]] = None,
        headers: Optional[Mapping[str, str]] = None,
        status: int = 200,
        **fields: Any,
    ) -> "Reply":
        """Declare ``Content-Length`` of the whole ``body`` but send ``body[:at]``, then ``end``."""
        data = _as_bytes(body)
        sent = data[:at]
        chunks = split_bytes(sent, sizes) if sizes is not None else ([sent] if sent else [])
        return cls(
            status=status,
            chunks=chunks,
            headers=dict(headers or {}),
            framing=LENGTH,
            content_length=len(data),
            end=end,
            **fields,
        )
