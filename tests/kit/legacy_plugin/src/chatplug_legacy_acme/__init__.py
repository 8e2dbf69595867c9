"""chatplug provider plugin for Legacy Acme.

The three hooks of the chatplug plugin contract (see docs/plugin-authors.md of chatplug):

- ``list_models()``: the static model catalogue (exactly one default).
- ``format_prompt(messages, model)``: optional; renders a conversation into one prompt
  for upstreams without message history (``None``: the core's default rendering).
- ``stream_completion(request, session)``: streams the answer's text pieces.

The example upstream protocol (replace it with the real one, and the emulator with it):
``POST {base_url}/v1/chat`` with JSON ``{"model", "prompt", "temperature"[, "system"]}``;
the answer is newline-delimited JSON: ``{"text": "..."}`` lines, then ``{"done": true}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Optional, Sequence

from chatplug import (
    CompletionRequest,
    ModelInfo,
    StreamProtocolError,
    browser_headers,
    hookimpl,
    open_stream,
)
from chatplug.decoders import iter_ndjson

if TYPE_CHECKING:  # aiohttp is only needed at run time, through the core's session
    import aiohttp

__version__ = "0.1.0"

PROVIDER = "legacy-acme"
TITLE = "Legacy Acme"
DEFAULT_MODEL = PROVIDER + "-chat"
LARGE_MODEL = PROVIDER + "-chat-large"
#: the upstream's base URL; every request is built from ``request.base_url`` or this
DEFAULT_URL = "https://api." + PROVIDER + ".example"
CHAT_PATH = "/v1/chat"
DEFAULT_TEMPERATURE = 1.0


@hookimpl
def list_models() -> List[ModelInfo]:
    """The catalogue: static, no network.  ``default=True`` on exactly one model."""
    return [
        ModelInfo(DEFAULT_MODEL, PROVIDER, aliases=("chat",), default=True, name=TITLE + " Chat"),
        ModelInfo(LARGE_MODEL, PROVIDER, name=TITLE + " Chat Large"),
    ]


@hookimpl
def format_prompt(messages: Sequence[Dict[str, str]], model: str) -> Optional[str]:
    """Return ``None`` to use the core's rendering (``User: ...`` lines, then ``Assistant:``)."""
    return None


def build_payload(request: CompletionRequest) -> Dict[str, Any]:
    """The JSON body of the upstream request: only fields the upstream understands."""
    payload: Dict[str, Any] = {
        "model": request.model,
        "prompt": request.prompt,
        "temperature": float(request.options.get("temperature", DEFAULT_TEMPERATURE)),
    }
    system = request.options.get("system")
    if system:
        payload["system"] = str(system)
    return payload


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[str]:
    """Stream the answer's text pieces as they arrive.

    ``open_stream`` applies ``request.proxy`` and the timeouts and raises the typed
    chatplug error for an HTTP error status; ``iter_ndjson`` decodes the bytes
    incrementally and reports a line cut short.  Errors are never swallowed: a stream
    without its ``done`` line is a :class:`~chatplug.StreamProtocolError`.
    """
    base = request.base_url or DEFAULT_URL
    headers = browser_headers(base, accept="application/x-ndjson")
    url = request.url(DEFAULT_URL, CHAT_PATH)
    async with open_stream(
        session, request, "POST", url, headers=headers, json=build_payload(request)
    ) as response:
        async for event in iter_ndjson(response):
            if not isinstance(event, dict):
                raise StreamProtocolError(f"expected a JSON object per line, got {event!r}")
            if event.get("done") is True:
                return
            text = event.get("text")
            if not isinstance(text, str):
                raise StreamProtocolError(f"a line without 'text': {event!r}")
            if text:
                yield text
    raise StreamProtocolError("the stream ended before its 'done' line (truncated)")
