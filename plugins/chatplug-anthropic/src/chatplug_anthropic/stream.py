"""The Messages API's streamed events → contract 0.2 stream items, and its errors.

``message_start`` gives the response id, model and input usage; ``content_block_*``
events carry text, thinking (with its signature), redacted thinking and tool calls;
``message_delta`` the stop reason and the output usage; ``message_stop`` ends the stream.
``ping`` and event types this parser does not know are skipped, as Anthropic asks of
clients; an ``error`` event raises the matching typed error.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional

from chatplug import (
    AuthenticationError,
    RateLimitedError,
    SSEDecoder,
    StreamProtocolError,
    UpstreamError,
    UpstreamHTTPError,
)
from chatplug.decoders import parse_json
from chatplug.events import (
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    StreamItem,
    ToolCallDelta,
    Usage,
)
from chatplug.http import redact
from chatplug.openai_errors import error_fields
from chatplug.parsing import EventParser

#: ``stop_reason`` → ``Finish.reason``
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "other",
}
#: an error's ``type`` → the HTTP status Anthropic answers it with
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_TEXT, _THINKING, _OTHER = "text", "thinking", "other"


class MessageStream(EventParser):
    """Parses a Messages API event stream fed in arbitrary byte pieces.

    :meth:`feed` returns the stream items that became complete; ``done`` turns true at
    ``message_stop``; :meth:`close` raises :class:`StreamProtocolError` when the stream
    ended before it.  An ``error`` event raises its typed error, after the items that came
    before it in the same piece.  ``finish`` and ``usage`` keep the last values seen.
    """

    __slots__ = ("_blocks", "_key", "_sse", "_tools", "_usage", "finish", "usage")

    def __init__(self, provider: str = "anthropic", key: Optional[str] = None) -> None:
        super().__init__(provider)
        self.finish: Optional[Finish] = None
        self.usage: Optional[Usage] = None
        self._sse = SSEDecoder()
        self._key = key
        #: content block index → its kind, or ``[tool index, arguments sent, start input]``
        self._blocks: Dict[int, Any] = {}
        self._tools = 0
        self._usage: Dict[str, Any] = {}

    def frames(self, chunk: bytes) -> List[str]:
        return self._sse.feed(chunk)

    def close(self) -> None:
        """End of the body: the stream must have ended with ``message_stop``."""
        self.raise_pending()
        if self.done:
            return
        for data in self._sse.close():  # a last event without its blank line
            self.event(data, [])
        if not self.done:
            raise StreamProtocolError(
                "the stream ended before message_stop (truncated)", provider=self.provider
            )

    # events --------------------------------------------------------------------------

    def event(self, data: str, items: List[StreamItem]) -> None:
        event = parse_json(data)
        try:
            kind = event["type"]
            if kind == "content_block_delta":
                self._delta(event["index"], event["delta"], items)
            elif kind == "content_block_start":
                self._start(event["index"], event["content_block"], items)
            elif kind == "content_block_stop":
                self._stop(event["index"], items)
            elif kind == "message_start":
                message = event["message"]
                items.append(ResponseMetadata(message.get("id"), message.get("model")))
                self._add_usage(message.get("usage"), items)
            elif kind == "message_delta":
                reason = (event.get("delta") or {}).get("stop_reason")
                if reason and self.finish is None:
                    self.finish = Finish(FINISH_REASONS.get(reason, "other"), raw=reason)
                    items.append(self.finish)
                self._add_usage(event.get("usage"), items)
            elif kind == "message_stop":
                self.done = True
            elif kind == "error":
                raise stream_error(event.get("error"), self.provider, self._key)
        except (KeyError, TypeError, AttributeError, ValueError):
            raise StreamProtocolError(
                f"unexpected event in the stream: {redact(data[:120], self._key)!r}",
                provider=self.provider,
            ) from None

    def _start(self, index: int, block: Mapping[str, Any], items: List[StreamItem]) -> None:
        kind = block["type"]
        if kind == "text":
            self._blocks[index] = _TEXT
            if block.get("text"):
                items.append(block["text"])
        elif kind == "thinking":
            self._blocks[index] = _THINKING
            if block.get("thinking"):
                items.append(ReasoningDelta(block["thinking"]))
            if block.get("signature"):
                items.append(ReasoningDelta("", metadata={"signature": block["signature"]}))
        elif kind == "redacted_thinking":
            self._blocks[index] = _OTHER
            items.append(ReasoningDelta("", redacted=True, metadata={"data": block["data"]}))
        elif kind == "tool_use":
            self._blocks[index] = [self._tools, False, block.get("input")]
            items.append(ToolCallDelta(self._tools, block["id"], block["name"]))
            self._tools += 1
        else:  # server tools, search results...: not a client's tool call
            self._blocks[index] = _OTHER

    def _delta(self, index: int, delta: Mapping[str, Any], items: List[StreamItem]) -> None:
        kind = delta["type"]
        if kind == "text_delta":
            if delta["text"]:
                items.append(delta["text"])
        elif kind == "thinking_delta":
            if delta["thinking"]:
                items.append(ReasoningDelta(delta["thinking"]))
        elif kind == "signature_delta":
            items.append(ReasoningDelta("", metadata={"signature": delta["signature"]}))
        elif kind == "input_json_delta":
            block = self._blocks[index]
            if isinstance(block, list) and delta["partial_json"]:
                block[1] = True
                items.append(ToolCallDelta(block[0], arguments=delta["partial_json"]))

    def _stop(self, index: int, items: List[StreamItem]) -> None:
        block = self._blocks.pop(index)
        if isinstance(block, list) and not block[1]:  # no input_json_delta: no arguments
            items.append(ToolCallDelta(block[0], arguments=json.dumps(block[2] or {})))

    def _add_usage(self, usage: Any, items: List[StreamItem]) -> None:
        if not usage:
            return
        raw = self._usage
        raw.update({name: value for name, value in usage.items() if value is not None})
        cached = raw.get("cache_read_input_tokens")
        # Anthropic's input_tokens leave out the cached and the newly cached tokens
        inputs = (
            int(raw.get("input_tokens") or 0)
            + int(raw.get("cache_creation_input_tokens") or 0)
            + int(cached or 0)
        )
        self.usage = Usage(
            inputs,
            int(raw.get("output_tokens") or 0),
            cached_input_tokens=None if cached is None else int(cached),
            raw=dict(raw),
        )
        items.append(self.usage)


# --- errors ----------------------------------------------------------------------------


def stream_error(error: Any, provider: Optional[str], key: Optional[str]) -> UpstreamError:
    """The typed error for an ``error`` event (``{"type", "message"}``) of the stream."""
    fields = error_fields(error)
    kind = str(fields.get("type") or "")
    message = redact(str(fields.get("message") or "unknown error"), key)
    text = f"error in the stream: {message}" + (f" ({kind})" if kind else "")
    status = ERROR_STATUS.get(kind)
    hint = "Anthropic failed mid-stream; try again later."
    if status == 429:
        return RateLimitedError(text, body=message, provider=provider, hint=hint)
    if status in (401, 403):
        return AuthenticationError(text, status=status, body=message, provider=provider)
    if status is not None:
        return UpstreamHTTPError(text, status=status, body=message, provider=provider, hint=hint)
    return UpstreamError(text, provider=provider, hint=hint)


def described_http_error(
    error: UpstreamHTTPError, key: Optional[str], auth_hint: str
) -> UpstreamHTTPError:
    """``error`` (from the core) with the Messages API's error type and message."""
    body = error.body
    fields: Dict[str, Any] = {}
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        fields = parsed["error"]
    kind = str(fields.get("type") or "")
    if fields.get("message"):
        error.body = redact(str(fields["message"]), key)
    else:
        error.body = redact(body, key)
    if kind:
        error.message = f"{error.message} ({kind})"
    if isinstance(error, AuthenticationError):
        error.hint = auth_hint
    elif error.status == 529 or kind == "overloaded_error":
        error.hint = "Anthropic is overloaded; try again in a moment or use another provider."
    elif error.status == 404 and "model" in error.body:
        error.hint = "Anthropic does not serve this model: check the model id."
    elif error.status in (400, 413):
        error.hint = "The Messages API rejected the request: see the message."
    error.message = redact(error.message, key)
    error.args = (error.message,)
    return error
