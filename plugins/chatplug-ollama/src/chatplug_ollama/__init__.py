"""chatplug provider plugin for Ollama's native chat API (``POST /api/chat``, NDJSON).

The module is the ``ollama`` provider (entry point ``chatplug.providers``), at
``http://127.0.0.1:11434`` unless the base URL is overridden.  It reports, through
contract 0.2, the text, the thinking, tool calls, usage, the finish reason and the model.

Settings (``request.settings``, from the provider's configuration table):

- ``api_key_env``: the variable holding a key sent as ``Authorization: Bearer`` (Ollama's
  cloud, or a server behind an authenticating proxy); default ``OLLAMA_API_KEY`` for
  ``ollama``, ``<ID>_API_KEY`` for another id; unset or empty: no header;
- ``headers``: extra HTTP headers;
- ``keep_alive``: how long the server keeps the model loaded (``"5m"``, seconds, ``-1``).

The catalogue is the built-in list, or the server's models once :func:`refresh_models`
cached them.  See the README for the request mapping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Mapping

from chatplug import CompletionRequest, ModelInfo, UpstreamHTTPError, hookimpl
from chatplug.events import StreamItem
from chatplug.http import http_error
from chatplug.parsing import post_json
from chatplug.provider_settings import api_key, json_headers

from .catalogue import (
    DEFAULT_BASE_URL,
    DEFAULT_MODELS,
    PROVIDER,
    async_refresh_models,
    build_catalogue,
    cache_path,
    clear_cache,
    refresh_models,
)
from .request import OLLAMA_OPTIONS, SAMPLING, build_payload, convert_messages
from .stream import ChatStream, described_http_error

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__version__ = "0.2.0"
USER_AGENT = f"chatplug-ollama/{__version__}"

#: this plugin's settings in a provider's configuration table (name → type)
CHATPLUG_SETTINGS: Dict[str, Any] = {
    "api_key_env": str,
    "headers": dict,
    "keep_alive": (str, int),
}


@hookimpl
def list_models() -> List[ModelInfo]:
    """The built-in catalogue, or the models cached by :func:`refresh_models` (no network)."""
    return build_catalogue(PROVIDER)


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[StreamItem]:
    """Stream ``POST {base}/api/chat``: text, thinking, tool calls, usage, finish."""

    async def on_error(response: "aiohttp.ClientResponse") -> UpstreamHTTPError:
        return described_http_error(await http_error(response, request.provider))

    url = request.url(DEFAULT_BASE_URL, "/api/chat")
    headers = build_headers(request.provider, request.settings)
    parser = ChatStream(request.provider)
    payload = build_payload(request)
    async for item in post_json(
        session, request, url, payload, parser, headers=headers, on_error=on_error
    ):
        yield item


def build_headers(provider: str, settings: Mapping[str, Any]) -> Dict[str, str]:
    """JSON in, NDJSON out, the configured extras and the key (when there is one)."""
    headers = json_headers(settings, "application/x-ndjson", USER_AGENT)
    key = api_key(provider, settings, literal=False)
    if key:
        headers["authorization"] = f"Bearer {key}"
    return headers


__all__ = [
    "CHATPLUG_SETTINGS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODELS",
    "OLLAMA_OPTIONS",
    "SAMPLING",
    "ChatStream",
    "__version__",
    "async_refresh_models",
    "build_catalogue",
    "build_headers",
    "build_payload",
    "cache_path",
    "clear_cache",
    "convert_messages",
    "list_models",
    "refresh_models",
    "stream_completion",
]
