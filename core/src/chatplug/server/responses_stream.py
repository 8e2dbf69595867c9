"""An answer as the OpenAI Responses API sends it: typed stream events and the response object.

:class:`ResponsesEncoder` turns stream items into ``event: <type>`` / ``data: {...}``
Server-Sent Events with a ``sequence_number`` each, in the documented order:
``response.created``, ``response.in_progress``, then per output item
``response.output_item.added``, its content events, ``response.output_item.done``, and last
``response.completed`` (or ``response.incomplete`` / ``response.failed``).

Output items: reasoning becomes a ``reasoning`` item (its text as one summary part; what the
provider must get back, signatures or redacted data, as its ``encrypted_content``), text a
``message`` item with one ``output_text`` part, each tool call a ``function_call`` item
(``call_id`` is the plugin's tool call id, unchanged).  A reasoning or message item ends
when another item starts; function calls end when the next call starts or at the end.
"""

from __future__ import annotations

import time
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Dict, List, Optional, Tuple

from ..events import ReasoningDelta, ToolCallDelta
from ..stream import Stream, reasoning_blocks
from .protocol import ApiError
from .translation import (
    Call,
    Counts,
    Encoder,
    Item,
    answer_counts,
    encode_reasoning,
    new_id,
    sse,
)

#: finish reason -> (response status, ``incomplete_details.reason``)
STATUS = {
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
    "error": ("failed", None),
}
TERMINAL = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}


class ResponsesEncoder(Encoder):
    """Stream items -> Responses events; :meth:`result` is the ``response`` object."""

    def __init__(self, call: Call, model: str, prompt: Counts) -> None:
        self.ident = new_id("resp")
        self.created = int(time.time())
        self.model = model
        self.echo = call.echo
        self.prompt = prompt
        self.sequence = 0
        self.items: List[Item] = []
        self.open: Optional[Item] = None  # the message or reasoning item being streamed
        self.calls: Dict[int, Item] = {}  # tool call index -> its item
        self.thoughts: Dict[int, List[ReasoningDelta]] = {}  # reasoning item -> its deltas
        self.open_call: Optional[Item] = None
        self.output_chars = 0
        self.status = "in_progress"
        self.details: Optional[Dict[str, Any]] = None
        self.error: Optional[Dict[str, Any]] = None
        self.usage: Optional[Dict[str, Any]] = None
        self._delta_prefix = b""

    # events ------------------------------------------------------------------

    def _event(self, kind: str, payload: Dict[str, Any]) -> bytes:
        payload = {"type": kind, "sequence_number": self.sequence, **payload}
        self.sequence += 1
        return sse(kind, payload)

    def start(self) -> bytes:
        created = self._event("response.created", {"response": self.response()})
        return created + self._event("response.in_progress", {"response": self.response()})

    def text(self, text: str) -> bytes:
        item = self.open
        head = b""
        if item is None or item.body["type"] != "message":
            head = self._close_open() + self._open_message()
            item = self.open
            assert item is not None
        item.pieces.append(text)
        self.output_chars += len(text)
        sequence = self.sequence
        self.sequence += 1
        return b"".join(
            (
                head,
                self._delta_prefix,
                encode_basestring_ascii(text).encode(),
                b',"logprobs":[],"sequence_number":',
                str(sequence).encode(),
                b"}\n\n",
            )
        )

    def reasoning(self, delta: ReasoningDelta) -> bytes:
        item = self.open
        head = b""
        if item is None or item.body["type"] != "reasoning":
            head = self._close_open() + self._open_reasoning()
            item = self.open
            assert item is not None
        self.thoughts.setdefault(item.index, []).append(delta)
        if delta.redacted or not delta.text:
            return head
        item.pieces.append(delta.text)
        self.output_chars += len(delta.text)
        return head + self._event(
            "response.reasoning_summary_text.delta",
            {**self._where(item), "summary_index": 0, "delta": delta.text},
        )

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        head = b""
        item = self.calls.get(delta.index)
        if item is None:
            head = self._close_open() + self._close_call()
            body = {
                "id": new_id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": delta.id,
                "name": delta.name,
                "arguments": "",
            }
            item, added = self._add(body)
            head += added
            self.calls[delta.index] = self.open_call = item
        if not delta.arguments:
            return head
        item.pieces.append(delta.arguments)
        self.output_chars += len(delta.arguments)
        return head + self._event(
            "response.function_call_arguments.delta",
            {**self._where(item), "delta": delta.arguments},
        )

    def finish(self, stream: Stream) -> bytes:
        reason = stream.finish_reason or "stop"
        self.status, detail = STATUS.get(reason, ("completed", None))
        if detail is not None:
            self.details = {"reason": detail}
        if self.status == "failed":
            raw = stream.finish.raw if stream.finish is not None else None
            self.error = {
                "code": "server_error",
                "message": f"the upstream ended the answer with an error ({raw or 'no detail'})",
            }
        counts = answer_counts(stream.usage, self.prompt, self.output_chars)
        self.usage = usage_object(counts)
        items = "completed" if self.status == "completed" else "incomplete"
        closing = self._close_open(items) + self._close_calls(items)
        return closing + self._terminal()

    def failure(self, error: ApiError) -> bytes:
        self.status = "failed"
        self.error = {
            "code": "rate_limit_exceeded" if error.status == 429 else "server_error",
            "message": error.message,
        }
        for item in self.items:
            if item.body["status"] == "in_progress":
                item.body["status"] = "incomplete"
                self._fill(item)
        return self._terminal()

    def result(self, stream: Stream) -> Dict[str, Any]:
        if self.status == "in_progress":
            self.finish(stream)
        return self.response()

    # the response object -------------------------------------------------------

    def response(self) -> Dict[str, Any]:
        echo = self.echo
        return {
            "id": self.ident,
            "object": "response",
            "created_at": self.created,
            "status": self.status,
            "error": self.error,
            "incomplete_details": self.details,
            "instructions": echo.get("instructions"),
            "max_output_tokens": echo.get("max_output_tokens"),
            "metadata": echo.get("metadata") or {},
            "model": self.model,
            "output": [item.body for item in self.items] if self.status != "in_progress" else [],
            "parallel_tool_calls": echo.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "reasoning": {"effort": (echo.get("reasoning") or {}).get("effort"), "summary": None},
            "store": False,
            "temperature": echo.get("temperature"),
            "text": {"format": (echo.get("text") or {}).get("format") or {"type": "text"}},
            "tool_choice": echo.get("tool_choice") or "auto",
            "tools": echo.get("tools") or [],
            "top_p": echo.get("top_p"),
            "truncation": "disabled",
            "usage": self.usage,
            "user": echo.get("user"),
        }

    # items -------------------------------------------------------------------

    def _where(self, item: Item) -> Dict[str, Any]:
        return {"item_id": item.body["id"], "output_index": item.index}

    def _add(self, body: Dict[str, Any]) -> Tuple[Item, bytes]:
        """A new output item, and its ``response.output_item.added`` event."""
        item = Item(len(self.items), body)
        self.items.append(item)
        added = self._event(
            "response.output_item.added", {"output_index": item.index, "item": dict(body)}
        )
        return item, added

    def _open_message(self) -> bytes:
        body = {
            "id": new_id("msg"),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        item, added = self._add(body)
        self.open = item
        part = {"type": "output_text", "text": "", "annotations": []}
        added += self._event(
            "response.content_part.added", {**self._where(item), "content_index": 0, "part": part}
        )
        self._delta_prefix = (
            'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
            f'"item_id":"{body["id"]}","output_index":{item.index},"content_index":0,"delta":'
        ).encode()
        return added

    def _open_reasoning(self) -> bytes:
        body = {"id": new_id("rs"), "type": "reasoning", "summary": [], "status": "in_progress"}
        item, added = self._add(body)
        self.open = item
        part = {"type": "summary_text", "text": ""}
        return added + self._event(
            "response.reasoning_summary_part.added",
            {**self._where(item), "summary_index": 0, "part": part},
        )

    def _fill(self, item: Item) -> str:
        """Put the item's pieces into its body; returns its whole text or arguments."""
        text = "".join(item.pieces)
        kind = item.body["type"]
        if kind == "message":
            item.body["content"] = [{"type": "output_text", "text": text, "annotations": []}]
        elif kind == "reasoning":
            item.body["summary"] = [{"type": "summary_text", "text": text}] if text else []
            blocks = reasoning_blocks(self.thoughts.get(item.index, ()))
            if any("metadata" in block or "redacted" in block for block in blocks):
                item.body["encrypted_content"] = encode_reasoning(blocks)
        else:
            item.body["arguments"] = text
        return text

    def _close_open(self, status: str = "completed") -> bytes:
        item, self.open = self.open, None
        if item is None:
            return b""
        text = self._fill(item)
        where = self._where(item)
        if item.body["type"] == "message":
            part = {"type": "output_text", "text": text, "annotations": []}
            events = self._event(
                "response.output_text.done",
                {**where, "content_index": 0, "text": text, "logprobs": []},
            ) + self._event(
                "response.content_part.done", {**where, "content_index": 0, "part": part}
            )
        else:
            part = {"type": "summary_text", "text": text}
            events = self._event(
                "response.reasoning_summary_text.done", {**where, "summary_index": 0, "text": text}
            ) + self._event(
                "response.reasoning_summary_part.done",
                {**where, "summary_index": 0, "part": part},
            )
        return events + self._item_done(item, status)

    def _close_call(self, status: str = "completed") -> bytes:
        item, self.open_call = self.open_call, None
        if item is None:
            return b""
        arguments = self._fill(item)
        done = self._event(
            "response.function_call_arguments.done",
            {**self._where(item), "name": item.body["name"], "arguments": arguments},
        )
        return done + self._item_done(item, status)

    def _close_calls(self, status: str) -> bytes:
        closing = self._close_call(status)
        for item in self.calls.values():  # arguments that came after their call ended
            self._fill(item)
        return closing

    def _item_done(self, item: Item, status: str) -> bytes:
        item.body["status"] = status
        return self._event(
            "response.output_item.done", {"output_index": item.index, "item": item.body}
        )

    def _terminal(self) -> bytes:
        return self._event(TERMINAL[self.status], {"response": self.response()})


def usage_object(counts: Counts) -> Dict[str, Any]:
    """The Responses ``usage`` object (with ``"estimated": true`` for an estimate)."""
    usage: Dict[str, Any] = {
        "input_tokens": counts.input_tokens,
        "input_tokens_details": {"cached_tokens": counts.cached_input_tokens or 0},
        "output_tokens": counts.output_tokens,
        "output_tokens_details": {"reasoning_tokens": counts.reasoning_tokens or 0},
        "total_tokens": counts.input_tokens + counts.output_tokens,
    }
    if counts.estimated:
        usage["estimated"] = True
    return usage
