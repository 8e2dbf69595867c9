"""An answer as the Anthropic Messages API sends it: stream events, the message object, errors.

:class:`MessagesEncoder` turns stream items into ``message_start`` (and a ``ping``), then
per content block ``content_block_start``, its ``content_block_delta`` events
(``text_delta``, ``thinking_delta``, ``signature_delta``, ``input_json_delta``) and
``content_block_stop``, then ``message_delta`` (``stop_reason``, usage) and
``message_stop``; an error after the start is an ``error`` event.

A text or thinking block ends when another block starts (a thinking block also at its
signature); a ``tool_use`` block when the next one starts, or at the end.  Tool use ids are
the plugin's tool call ids, unchanged.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Dict, List, Optional

from ..events import ReasoningDelta, ToolCallDelta
from ..stream import Stream
from .protocol import ApiError
from .translation import Call, Counts, Encoder, Item, answer_counts, new_id, sse

MESSAGES_PATH = "/v1/messages"
#: finish reason -> ``stop_reason``
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "other": "end_turn",
}
#: HTTP status -> Anthropic error type
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
}


def anthropic_error(error: ApiError) -> Dict[str, Any]:
    """The Anthropic error object ``{"type": "error", "error": {"type", "message"}}``."""
    return {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(error.status, "api_error"), "message": error.message},
    }


def anthropic_error_body(error: ApiError) -> bytes:
    return json.dumps(anthropic_error(error)).encode()


class MessagesEncoder(Encoder):
    """Stream items -> Messages events; :meth:`result` is the ``message`` object."""

    def __init__(self, call: Call, model: str, prompt: Counts) -> None:
        self.ident = new_id("msg")
        self.model = model
        self.prompt = prompt
        self.blocks: List[Item] = []
        self.open: Optional[Item] = None  # the text or thinking block being streamed
        self.calls: Dict[int, Item] = {}  # tool call index -> its block
        self.open_call: Optional[Item] = None
        self.output_chars = 0
        self.stop_reason: Optional[str] = None
        self.usage: Dict[str, Any] = {}
        self.done = False
        self.failed: Optional[ApiError] = None
        self._text_prefix = b""

    def message(self) -> Dict[str, Any]:
        return {
            "id": self.ident,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [block.body for block in self.blocks] if self.done else [],
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self.usage or {"input_tokens": self.prompt.input_tokens, "output_tokens": 0},
        }

    # events ------------------------------------------------------------------

    def start(self) -> bytes:
        started = sse("message_start", {"type": "message_start", "message": self.message()})
        return started + sse("ping", {"type": "ping"})

    def text(self, text: str) -> bytes:
        block = self.open
        head = b""
        if block is None or block.body["type"] != "text":
            head = self._close_open() + self._start({"type": "text", "text": ""})
            block = self.open = self.blocks[-1]
            self._text_prefix = (
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                + str(block.index).encode()
                + b',"delta":{"type":"text_delta","text":'
            )
        block.pieces.append(text)
        self.output_chars += len(text)
        return b"".join(
            (head, self._text_prefix, encode_basestring_ascii(text).encode(), b"}}\n\n")
        )

    def reasoning(self, delta: ReasoningDelta) -> bytes:
        metadata = delta.metadata or {}
        if delta.redacted:
            head = self._close_open()
            data = metadata.get("data", delta.text)
            head += self._start({"type": "redacted_thinking", "data": data})
            return head + self._stop(self.blocks[-1])
        block = self.open
        head = b""
        if block is None or block.body["type"] != "thinking":
            head = self._close_open() + self._start(
                {"type": "thinking", "thinking": "", "signature": ""}
            )
            block = self.open = self.blocks[-1]
        if delta.text:
            block.pieces.append(delta.text)
            self.output_chars += len(delta.text)
            head += self._delta(block, {"type": "thinking_delta", "thinking": delta.text})
        signature = metadata.get("signature")
        if isinstance(signature, str):
            block.body["signature"] = signature
            head += self._delta(block, {"type": "signature_delta", "signature": signature})
            head += self._close_open()  # the signature ends a thinking block
        return head

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        head = b""
        block = self.calls.get(delta.index)
        if block is None:
            head = self._close_open() + self._close_call()
            head += self._start(
                {"type": "tool_use", "id": delta.id, "name": delta.name, "input": {}}
            )
            block = self.calls[delta.index] = self.open_call = self.blocks[-1]
        if not delta.arguments:
            return head
        block.pieces.append(delta.arguments)
        self.output_chars += len(delta.arguments)
        return head + self._delta(
            block, {"type": "input_json_delta", "partial_json": delta.arguments}
        )

    def finish(self, stream: Stream) -> bytes:
        closing = self._close_open() + self._close_call()
        self.done = True
        reason = stream.finish_reason or "stop"
        if reason == "error":
            raw = stream.finish.raw if stream.finish is not None else None
            message = f"the upstream ended the answer with an error ({raw or 'no detail'})"
            return closing + self.failure(ApiError(502, message, type="upstream_error"))
        self.stop_reason = STOP_REASONS.get(reason, "end_turn")
        if self.stop_reason == "end_turn" and self.calls:
            self.stop_reason = "tool_use"  # the caller runs the tools either way
        elif stream.finish is not None and stream.finish.raw == "stop_sequence":
            self.stop_reason = "stop_sequence"
        counts = answer_counts(stream.usage, self.prompt, self.output_chars)
        cached = counts.cached_input_tokens
        self.usage = {
            "input_tokens": counts.input_tokens - (cached or 0),
            "output_tokens": counts.output_tokens,
            "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": None,
        }
        if counts.estimated:
            self.usage["estimated"] = True
        delta = {"stop_reason": self.stop_reason, "stop_sequence": None}
        return (
            closing
            + sse("message_delta", {"type": "message_delta", "delta": delta, "usage": self.usage})
            + sse("message_stop", {"type": "message_stop"})
        )

    def failure(self, error: ApiError) -> bytes:
        self.failed = error
        return sse("error", anthropic_error(error))

    def result(self, stream: Stream) -> Dict[str, Any]:
        if not self.done:
            self.finish(stream)
        if self.failed is not None:
            raise self.failed
        for block in self.calls.values():
            block.body["input"] = _input("".join(block.pieces))
        return self.message()

    # blocks ------------------------------------------------------------------

    def _start(self, body: Dict[str, Any]) -> bytes:
        block = Item(len(self.blocks), body)
        self.blocks.append(block)
        event = {"type": "content_block_start", "index": block.index, "content_block": dict(body)}
        return sse("content_block_start", event)

    def _delta(self, block: Item, delta: Dict[str, Any]) -> bytes:
        event = {"type": "content_block_delta", "index": block.index, "delta": delta}
        return sse("content_block_delta", event)

    def _stop(self, block: Item) -> bytes:
        return sse("content_block_stop", {"type": "content_block_stop", "index": block.index})

    def _fill(self, block: Item) -> None:
        kind = block.body["type"]
        if kind in ("text", "thinking"):  # a tool's input is parsed for the whole message only
            block.body[kind] = "".join(block.pieces)

    def _close_open(self) -> bytes:
        block, self.open = self.open, None
        return self._end(block)

    def _close_call(self) -> bytes:
        block, self.open_call = self.open_call, None
        return self._end(block)

    def _end(self, block: Optional[Item]) -> bytes:
        if block is None:
            return b""
        self._fill(block)
        return self._stop(block)


def _input(arguments: str) -> Any:
    """A tool call's JSON arguments as the ``input`` object (``{}`` when empty)."""
    if not arguments.strip():
        return {}
    try:
        return json.loads(arguments)
    except ValueError:
        raise ApiError(
            502,
            f"the model's tool call arguments are not valid JSON: {arguments[:80]!r}",
            type="upstream_error",
            code="invalid_tool_arguments",
        ) from None
