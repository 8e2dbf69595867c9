"""Fixtures for chatplug-openai's tests: a clean environment, request builders, collectors."""

from __future__ import annotations

import functools
import json
from typing import Any, Dict, List, Optional

from chatplug.events import StreamItem
from chatplug.testing import (
    clean_environment,
    collect_items,
    completion_request,
    of_type,
    running_emulator,
)
from chatplug_openai import stream_completion
from chatplug_openai.emulator import create_app

clean_env = clean_environment(
    "OPENAI_API_KEY", "OLLAMA_API_KEY", "MY_KEY", "GROQ_API_KEY", cache=True
)
emulator = running_emulator(create_app)
#: a :class:`CompletionRequest` as the core builds it (``make_request(base_url, ...)``)
make_request = functools.partial(completion_request, provider="openai", model="gpt-4o-mini")
#: everything the ``stream_completion`` hook yields for a request
collect = functools.partial(collect_items, stream_completion)

__all__ = ["chunk", "collect", "make_request", "of_type", "sse", "texts"]


def texts(items: List[StreamItem]) -> List[str]:
    """The text pieces among ``items``."""
    return of_type(items, str)


def sse(*events: Any, done: bool = True) -> bytes:
    """An OpenAI SSE body from events (dicts are JSON-encoded)."""
    body = b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n"
        for e in events
    )
    return body + (b"data: [DONE]\n\n" if done else b"")


def chunk(
    content: Optional[str] = None, finish: Optional[str] = None, **delta: Any
) -> Dict[str, Any]:
    """One ``chat.completion.chunk`` event."""
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
