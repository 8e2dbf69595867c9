"""Fixtures for chatplug-ollama's tests: a clean environment, a private cache, requests."""

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
from chatplug_ollama import stream_completion
from chatplug_ollama.emulator import create_app

MODEL = "llama3.2"

clean_env = clean_environment("OLLAMA_API_KEY", "GPU_BOX_API_KEY", "MY_KEY", cache=True)
start_emulator = plugin_fixtures("ollama", create_app).emulator
emulator = running_emulator(create_app)
#: a :class:`CompletionRequest` as the core builds it (``make_request(base_url, messages)``)
make_request = functools.partial(completion_request, provider="ollama", model=MODEL)
#: every item the plugin's ``stream_completion`` hook yields for a request
collect = functools.partial(collect_items, stream_completion)

__all__ = ["MODEL", "StartEmulator", "collect", "make_request", "ndjson", "text_of"]


def ndjson(*records: Dict[str, Any]) -> bytes:
    """An NDJSON body: one JSON record a line."""
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)
