"""The OpenAI wire shapes, by concern: :mod:`.api_errors` (the error shape and the status
of every chatplug error), :mod:`.chat_request` (reading a request), :mod:`.chat_response`
(answers and SSE chunks) and :mod:`.usage` (real or estimated token usage).

Nothing there does I/O.  This module keeps the names importable from where they were.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from ..types import Message
from .api_errors import DEFAULT_RETRY_AFTER, ApiError, api_error, invalid
from .chat_request import (
    ChatCall,
    ChatRequest,
    chat_fields,
    parse_chat_request,
    parse_json_body,
    start_stream,
)
from .chat_response import ChunkEncoder, completion_id, completion_object
from .usage import answer_usage, estimate_tokens, openai_usage

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "ApiError",
    "ChatCall",
    "ChatRequest",
    "ChunkEncoder",
    "api_error",
    "answer_usage",
    "chat_fields",
    "completion_id",
    "completion_object",
    "estimate_tokens",
    "invalid",
    "openai_usage",
    "parse_chat_request",
    "parse_json_body",
    "start_stream",
    "usage",
]


def usage(messages: Tuple[Message, ...], completion_chars: int) -> Dict[str, Any]:
    """The estimated Chat Completions usage of an answer of ``completion_chars`` characters."""
    return openai_usage(answer_usage(None, messages, completion_chars))
