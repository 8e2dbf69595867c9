"""What the logs hand back: one logged exchange, and usage totals."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

#: the columns of ``exchanges`` read into an :class:`Exchange`, in order
COLUMNS = (
    "id",
    "conversation_id",
    "created_at",
    "source",
    "key_name",
    "provider",
    "model",
    "prior_messages",
    "messages",
    "prompt",
    "options",
    "answer",
    "reasoning",
    "tool_calls",
    "finish_reason",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "usage_estimated",
    "first_chunk_ms",
    "total_ms",
    "error_type",
    "error_message",
)


def assistant_message(answer: str, tool_calls: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """An answer as an assistant message (OpenAI's shape: ``content`` null beside tool calls)."""
    if tool_calls:
        return {"role": "assistant", "content": answer or None, "tool_calls": tool_calls}
    return {"role": "assistant", "content": answer}


@dataclass(frozen=True)
class Exchange:
    """One logged exchange: a request and what came back.

    ``messages`` are the messages this exchange added to its conversation; the first
    ``prior_messages`` messages of the conversation's history preceded them in the request.
    ``answer`` is the text received, complete or (when ``error_type`` is set) partial.
    ``created_at`` is when the request started (UTC, ``2024-05-01T12:00:00.123Z``).
    """

    id: str
    conversation_id: str
    created_at: str
    source: str
    key_name: Optional[str]
    provider: Optional[str]
    model: Optional[str]
    prior_messages: int
    messages: List[Dict[str, Any]]
    prompt: str
    options: Dict[str, Any]
    answer: str
    reasoning: Optional[str]
    tool_calls: Optional[List[Dict[str, Any]]]
    finish_reason: Optional[str]
    input_tokens: Optional[int]
    output_tokens: Optional[int]
    cached_tokens: Optional[int]
    reasoning_tokens: Optional[int]
    usage_estimated: bool
    first_chunk_ms: Optional[int]
    total_ms: Optional[int]
    error_type: Optional[str]
    error_message: Optional[str]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Exchange":
        values = dict(zip(COLUMNS, row))
        for name in ("messages", "options", "tool_calls"):
            if values[name] is not None:
                values[name] = json.loads(values[name])
        values["usage_estimated"] = bool(values["usage_estimated"])
        return cls(**values)

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    @property
    def qualified_model(self) -> str:
        """``provider/model`` (``?`` for whichever is unknown)."""
        return f"{self.provider or '?'}/{self.model or '?'}"

    def assistant_message(self) -> Dict[str, Any]:
        """The answer as the assistant message that continues the conversation."""
        return assistant_message(self.answer, self.tool_calls)

    def as_dict(self) -> Dict[str, Any]:
        """JSON-ready, with usage, timings and the error grouped."""
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "created_at": self.created_at,
            "source": self.source,
            "key_name": self.key_name,
            "provider": self.provider,
            "model": self.model,
            "prior_messages": self.prior_messages,
            "messages": self.messages,
            "options": self.options,
            "answer": self.answer,
            "reasoning": self.reasoning,
            "tool_calls": self.tool_calls,
            "finish_reason": self.finish_reason,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cached_tokens": self.cached_tokens,
                "reasoning_tokens": self.reasoning_tokens,
                "estimated": self.usage_estimated,
            },
            "timings": {"first_chunk_ms": self.first_chunk_ms, "total_ms": self.total_ms},
            "error": (
                {"type": self.error_type, "message": self.error_message} if self.failed else None
            ),
        }


@dataclass(frozen=True)
class UsageStats:
    """Totals for one provider and model over a period.

    Token sums count the exchanges that reported usage; ``estimated`` of them had an
    estimate rather than the upstream's numbers, and ``without_usage`` reported none.
    """

    provider: Optional[str]
    model: Optional[str]
    exchanges: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    estimated: int
    without_usage: int

    def as_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
