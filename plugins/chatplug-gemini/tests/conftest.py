"""Fixtures for chatplug-gemini's tests: a clean environment, the emulator, request builders."""

from __future__ import annotations

import functools
import json
from typing import Any, Dict, Optional

from chatplug.emulation import RunningEmulator
from chatplug.testing import (
    StartEmulator,
    clean_environment,
    collect_items,
    completion_request,
    of_type,
    plugin_fixtures,
    running_emulator,
    text_of,
)
from chatplug_gemini import stream_completion
from chatplug_gemini.emulator import REQUESTS, create_app

clean_env = clean_environment(
    "GEMINI_API_KEY", "GOOGLE_API_KEY", "MY_KEY", "VERTEX_GATEWAY_API_KEY"
)
start_emulator = plugin_fixtures("gemini", create_app).emulator
emulator = running_emulator(create_app)
#: a :class:`CompletionRequest` as the core builds it (``make_request(base_url, ...)``)
make_request = functools.partial(completion_request, provider="gemini", model="gemini-2.0-flash")
#: every item ``stream_completion`` yields for a request
collect = functools.partial(collect_items, stream_completion)

__all__ = ["StartEmulator", "chunk", "collect", "make_request", "of_type", "sent", "sse", "text_of"]


def sent(emulator: RunningEmulator, index: int = -1) -> Dict[str, Any]:
    """A request the emulator received, its body decoded."""
    record = dict(emulator.app[REQUESTS][index])
    record["json"] = json.loads(record["body"])
    return record


def sse(*events: Any) -> bytes:
    """A Gemini ``alt=sse`` body from events (dicts are JSON-encoded)."""
    return b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\r\n\r\n"
        for e in events
    )


def chunk(
    *parts: Dict[str, Any],
    finish: Optional[str] = None,
    usage: Optional[Dict[str, int]] = None,
    **extra: Any,
) -> Dict[str, Any]:
    """One ``GenerateContentResponse``."""
    candidate: Dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    response: Dict[str, Any] = {"candidates": [candidate], **extra}
    if usage:
        response["usageMetadata"] = usage
    return response
