"""Fixtures for chatplug-anthropic's tests: a clean environment, requests, event bodies."""

from __future__ import annotations

import functools
import json
from typing import Any, Dict

from chatplug.testing import (
    StartEmulator,
    clean_environment,
    collect_items,
    completion_request,
    plugin_fixtures,
    running_emulator,
    text_of,
)
from chatplug_anthropic import stream_completion
from chatplug_anthropic.emulator import create_app

MODEL = "claude-sonnet-4-5-20250929"

clean_env = clean_environment("ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "MY_KEY")
start_emulator = plugin_fixtures("anthropic", create_app).emulator
emulator = running_emulator(create_app)
#: a :class:`CompletionRequest` as the core builds it (``make_request(base_url, messages)``)
make_request = functools.partial(completion_request, provider="anthropic", model=MODEL)
#: every item the plugin's ``stream_completion`` hook yields for a request
collect = functools.partial(collect_items, stream_completion)

__all__ = ["MODEL", "StartEmulator", "collect", "events", "make_request", "text_of"]


def events(*values: Dict[str, Any]) -> bytes:
    """A Messages API SSE body: each value's ``type`` is also its ``event:`` name."""
    return b"".join(
        f"event: {value['type']}\ndata: {json.dumps(value)}\n\n".encode() for value in values
    )
