"""Ollama's ``/api/chat`` NDJSON stream → contract 0.2 stream items, and its errors.

Each line is one JSON record: ``message.thinking`` → :class:`ReasoningDelta`,
``message.content`` → text, ``message.tool_calls`` (whole calls, arguments as an object)
→ one :class:`ToolCallDelta` per call; the last record has ``done: true`` with the
``done_reason`` and the token counts.  ``{"error": "..."}`` raises.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, List, Mapping, Optional

from chatplug import LineDecoder, StreamProtocolError, UpstreamError, UpstreamHTTPError
from chatplug.decoders import parse_json
from chatplug.events import (
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    StreamItem,
    ToolCallDelta,
    Usage,
)
from chatplug.parsing import EventParser

#: ``done_reason`` → ``Finish.reason`` (``stop`` becomes ``tool_calls`` after tool calls)
FINISH_REASONS = {"stop": "stop", "length": "length"}
#: the timing fields of the done record, kept in ``Usage.raw``
TIMINGS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


class ChatStream(EventParser):
    """Parses an ``/api/chat`` NDJSON stream fed in arbitrary byte pieces.

    :meth:`feed` returns the stream items that became complete; ``done`` turns true at
    the ``done: true`` record; :meth:`close` raises :class:`StreamProtocolError` when the
    stream ended before it.  ``finish`` and ``usage`` keep what the done record said.
    """

    __slots__ = ("_lines", "_model", "_tools", "finish", "usage")

    def __init__(self, provider: str = "ollama") -> None:
        super().__init__(provider)
        self.finish: Optional[Finish] = None
        self.usage: Optional[Usage] = None
        self._lines = LineDecoder()
        self._model: Optional[str] = None
        self._tools = 0

    def frames(self, chunk: bytes) -> List[bytes]:
        return [line for line in self._lines.feed(chunk) if line.strip()]

    def close(self) -> List[StreamItem]:
        """End of the body: a last record without its newline, then the done check."""
        self.raise_pending()
        items: List[StreamItem] = []
        rest = None if self.done else self._lines.close()
        if rest and rest.strip():
            self.event(rest, items)
        if not self.done:
            raise StreamProtocolError(
                "the stream ended before its done record (truncated)", provider=self.provider
            )
        return items

    def event(self, line: bytes, items: List[StreamItem]) -> None:
        record = parse_json(line)
        try:
            if "error" in record:
                raise stream_error(record["error"], self.provider)
            if self._model is None and record.get("model"):
                self._model = record["model"]
                items.append(ResponseMetadata(model=self._model))
            message = record.get("message") or {}
            if message.get("thinking"):
                items.append(ReasoningDelta(message["thinking"]))
            if message.get("content"):
                items.append(message["content"])
            for call in message.get("tool_calls") or ():
                items.append(self._tool_call(call["function"], call.get("id")))
            if record.get("done"):
                self._done(record, items)
        except (KeyError, TypeError, AttributeError, ValueError):
            raise StreamProtocolError(
                f"unexpected record in the stream: {line[:120]!r}", provider=self.provider
            ) from None

    def _tool_call(self, function: Mapping[str, Any], call_id: Any) -> ToolCallDelta:
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments or {}, ensure_ascii=False)
        if not isinstance(call_id, str) or not call_id:
            call_id = "call_" + uuid.uuid4().hex[:24]
        delta = ToolCallDelta(self._tools, call_id, str(function["name"]), arguments)
        self._tools += 1
        return delta

    def _done(self, record: Mapping[str, Any], items: List[StreamItem]) -> None:
        self.done = True
        raw = record.get("done_reason")
        reason = FINISH_REASONS.get(raw or "stop", "other")
        if self._tools and reason == "stop":
            reason = "tool_calls"
        self.finish = Finish(reason, raw=raw)
        items.append(self.finish)
        if "prompt_eval_count" in record or "eval_count" in record:
            counts: Dict[str, Any] = {
                name: record[name]
                for name in ("prompt_eval_count", "eval_count", *TIMINGS)
                if name in record
            }
            self.usage = Usage(
                int(record.get("prompt_eval_count") or 0),
                int(record.get("eval_count") or 0),
                raw=counts,
            )
            items.append(self.usage)


def stream_error(error: Any, provider: Optional[str]) -> UpstreamError:
    """The typed error for an ``{"error": ...}`` record inside the stream."""
    message = error if isinstance(error, str) else json.dumps(error)
    return UpstreamError(
        f"error in the stream: {message}",
        provider=provider,
        hint="The Ollama server failed while answering; see its log.",
    )


def described_http_error(error: UpstreamHTTPError) -> UpstreamHTTPError:
    """``error`` (from the core) with Ollama's ``{"error": "..."}`` message and a hint."""
    try:
        parsed = json.loads(error.body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        error.body = parsed["error"]
    if error.status == 404 and "not found" in error.body:
        error.hint = "The server does not have this model: run 'ollama pull <model>' there."
    elif error.status == 400:
        error.hint = "The Ollama server rejected the request: see the message."
    error.args = (error.message,)
    return error
