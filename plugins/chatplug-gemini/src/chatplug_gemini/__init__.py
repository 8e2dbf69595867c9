"""chatplug provider plugin for Google's Gemini API (``generativelanguage.googleapis.com``).

The module is the ``gemini`` provider (entry point ``chatplug.providers``): it streams
``POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse`` with the key in
``x-goog-api-key`` and reports text, thoughts (reasoning), function calls, usage, the finish
reason and the response id through contract 0.2.  The request body is built in
:mod:`chatplug_gemini.payload`, the stream parsed in :mod:`chatplug_gemini.stream`.

Settings (``request.settings``, from the provider's configuration table):

- ``api_key_env``: the environment variable holding the key, read at request time.
  Default ``GEMINI_API_KEY``, then ``GOOGLE_API_KEY``, for ``gemini``; ``<ID>_API_KEY`` for
  another provider id served by this plugin; ``""`` never sends a key.
- ``api_key``: the key itself (for code and tests; keep keys out of files).

Keys never appear in errors or logs.  See the README.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
)
from urllib.parse import quote

from chatplug import CompletionRequest, ModelInfo, UpstreamError, hookimpl
from chatplug.events import StreamItem
from chatplug.parsing import post_json
from chatplug.provider_settings import api_key as settings_api_key
from chatplug.provider_settings import json_headers, key_hint
from chatplug.provider_settings import key_variables as settings_key_variables
from chatplug.types import IMAGES, JSON_OBJECT, JSON_SCHEMA, OFFICIAL, REASONING, TOOLS, USAGE

from .payload import build_body
from .stream import FINISH_REASONS, StreamParser, upstream_error

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__version__ = "0.2.0"

PROVIDER = "gemini"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
#: the key's variables of the ``gemini`` provider (another id: ``<ID>_API_KEY``)
OWN_KEYS = {PROVIDER: KEY_VARIABLES}
USER_AGENT = f"chatplug-gemini/{__version__}"

#: this plugin's own settings in a provider's configuration table (name → type)
CHATPLUG_SETTINGS: Dict[str, Any] = {"api_key_env": str, "api_key": str}

BASE_CAPABILITIES = frozenset({TOOLS, IMAGES, JSON_SCHEMA, JSON_OBJECT, USAGE})
#: (id, display name, aliases, thinking model)
MODELS: Tuple[Tuple[str, str, Tuple[str, ...], bool], ...] = (
    ("gemini-2.5-flash", "Gemini 2.5 Flash", ("gemini-flash",), True),
    ("gemini-2.5-pro", "Gemini 2.5 Pro", ("gemini-pro",), True),
    ("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", ("gemini-flash-lite",), True),
    ("gemini-2.0-flash", "Gemini 2.0 Flash", ("gemini-2.0-flash-001",), False),
    ("gemini-2.0-flash-lite", "Gemini 2.0 Flash-Lite", ("gemini-2.0-flash-lite-001",), False),
)
DEFAULT_MODEL = MODELS[0][0]


def _catalogue() -> List[ModelInfo]:
    return [
        ModelInfo(
            model,
            PROVIDER,
            aliases=aliases,
            default=model == DEFAULT_MODEL,
            name=name,
            capabilities=BASE_CAPABILITIES | {REASONING} if thinking else BASE_CAPABILITIES,
            upstream=OFFICIAL,
        )
        for model, name, aliases, thinking in MODELS
    ]


_CATALOGUE = _catalogue()


@hookimpl
def list_models() -> List[ModelInfo]:
    """Gemini's static catalogue (no network)."""
    return list(_CATALOGUE)


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[StreamItem]:
    """Stream one ``:streamGenerateContent`` answer as contract-0.2 items."""
    key = api_key(request.provider, request.settings)
    headers = json_headers(request.settings, "text/event-stream", USER_AGENT)
    if key:
        headers["x-goog-api-key"] = key

    def on_error(response: "aiohttp.ClientResponse") -> Awaitable[UpstreamError]:
        hint = auth_hint(request.provider, request.settings, key)
        return upstream_error(response, request.provider, key, hint)

    single_call = request.parallel_tool_calls is False
    parser = StreamParser(request.provider, key, single_call=single_call)
    async for item in post_json(
        session,
        request,
        stream_url(request),
        build_body(request),
        parser,
        headers=headers,
        params={"alt": "sse"},
        on_error=on_error,
    ):
        yield item


def stream_url(request: CompletionRequest, method: str = "streamGenerateContent") -> str:
    """``{base}/v1beta/models/{model}:{method}``."""
    path = f"/{API_VERSION}/models/{quote(request.model, safe='')}:{method}"
    return request.url(DEFAULT_BASE_URL, path)


# --- keys --------------------------------------------------------------------------


def key_variables(provider: str, settings: Mapping[str, Any]) -> Tuple[str, ...]:
    """The environment variables that may hold the key, in order (empty: never send one)."""
    return settings_key_variables(provider, settings, OWN_KEYS)


def api_key(provider: str, settings: Mapping[str, Any]) -> Optional[str]:
    """The API key: the ``api_key`` setting, else the first variable set, read now."""
    return settings_api_key(provider, settings, OWN_KEYS)


def auth_hint(provider: str, settings: Mapping[str, Any], key: Optional[str]) -> str:
    """What to do when Gemini refuses the key (never the key itself)."""
    wanted = "a Gemini API key (https://aistudio.google.com/apikey)"
    return key_hint(provider, settings, key, OWN_KEYS, wanted=wanted)


__all__ = [
    "API_VERSION",
    "CHATPLUG_SETTINGS",
    "DEFAULT_BASE_URL",
    "FINISH_REASONS",
    "KEY_VARIABLES",
    "MODELS",
    "StreamParser",
    "__version__",
    "api_key",
    "build_body",
    "list_models",
    "stream_completion",
    "stream_url",
]
