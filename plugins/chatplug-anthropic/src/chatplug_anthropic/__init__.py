"""chatplug provider plugin for Anthropic's Messages API (Claude).

The module is the ``anthropic`` provider (entry point ``chatplug.providers``): it streams
``POST {base}/v1/messages`` (``https://api.anthropic.com`` unless the base URL is
overridden) and reports, through contract 0.2, the text, the thinking
(:class:`~chatplug.events.ReasoningDelta`, signatures included), tool calls, usage, the
finish reason and the response's id and model.

Settings (``request.settings``, from the provider's configuration table):

- ``api_key``: the key itself (prefer ``api_key_env``: keys do not belong in files);
- ``api_key_env``: the environment variable holding the key, read at request time
  (default ``ANTHROPIC_API_KEY`` for ``anthropic``, ``<ID>_API_KEY`` for another id);
- ``headers``: extra HTTP headers (e.g. ``anthropic-beta``);
- ``max_tokens``: the ``max_tokens`` sent when the caller gives none (default 4096).

Keys never appear in errors or logs.  See the README for the request mapping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Mapping, NamedTuple, Optional

from chatplug import CompletionRequest, ModelInfo, UpstreamHTTPError, hookimpl
from chatplug.events import StreamItem
from chatplug.http import http_error
from chatplug.parsing import post_json
from chatplug.provider_settings import api_key as settings_api_key
from chatplug.provider_settings import json_headers, key_hint, key_variables
from chatplug.types import IMAGES, OFFICIAL, REASONING, TOOLS, USAGE

from .request import DEFAULT_MAX_TOKENS, THINKING_BUDGETS, build_payload
from .stream import MessageStream, described_http_error

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__version__ = "0.2.0"

PROVIDER = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
USER_AGENT = f"chatplug-anthropic/{__version__}"
#: the key's variable of the ``anthropic`` provider (another id: ``<ID>_API_KEY``)
OWN_KEYS = {PROVIDER: ("ANTHROPIC_API_KEY",)}

#: this plugin's settings in a provider's configuration table (name → type)
CHATPLUG_SETTINGS: Dict[str, Any] = {
    "api_key": str,
    "api_key_env": str,
    "headers": dict,
    "max_tokens": int,
}


class Model(NamedTuple):
    """One Claude model of the static catalogue."""

    id: str
    name: str
    aliases: "tuple[str, ...]"
    max_output_tokens: int
    thinking: bool


#: the static catalogue; the first is the default
MODELS = (
    Model("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", ("claude-sonnet-4-5",), 64000, True),
    Model("claude-haiku-4-5-20251001", "Claude Haiku 4.5", ("claude-haiku-4-5",), 64000, True),
    Model("claude-opus-4-5-20251101", "Claude Opus 4.5", ("claude-opus-4-5",), 64000, True),
    Model("claude-opus-4-1-20250805", "Claude Opus 4.1", ("claude-opus-4-1",), 32000, True),
    Model(
        "claude-sonnet-4-20250514",
        "Claude Sonnet 4",
        ("claude-sonnet-4-0", "claude-sonnet-4"),
        64000,
        True,
    ),
    Model(
        "claude-opus-4-20250514", "Claude Opus 4", ("claude-opus-4-0", "claude-opus-4"), 32000, True
    ),
    Model(
        "claude-3-7-sonnet-20250219",
        "Claude Sonnet 3.7",
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
        64000,
        True,
    ),
    Model(
        "claude-3-5-haiku-20241022",
        "Claude Haiku 3.5",
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        8192,
        False,
    ),
    Model("claude-3-haiku-20240307", "Claude Haiku 3", ("claude-3-haiku",), 4096, False),
)
MODELS_BY_ID = {model.id: model for model in MODELS}
BASE_CAPABILITIES = frozenset({TOOLS, IMAGES, USAGE})


@hookimpl
def list_models() -> List[ModelInfo]:
    """The static catalogue (no network)."""
    return [
        ModelInfo(
            model.id,
            PROVIDER,
            aliases=model.aliases,
            default=index == 0,
            name=model.name,
            metadata={"max_output_tokens": model.max_output_tokens, "context_window": 200000},
            capabilities=BASE_CAPABILITIES | {REASONING} if model.thinking else BASE_CAPABILITIES,
            upstream=OFFICIAL,
        )
        for index, model in enumerate(MODELS)
    ]


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[StreamItem]:
    """Stream ``POST {base}/v1/messages``: text, thinking, tool calls, usage, finish."""
    key = api_key(request.provider, request.settings)
    known = MODELS_BY_ID.get(request.model)
    payload = build_payload(
        request,
        default_max_tokens=_default_max_tokens(request.settings),
        max_output_tokens=known.max_output_tokens if known else None,
    )

    async def on_error(response: "aiohttp.ClientResponse") -> UpstreamHTTPError:
        hint = key_hint(request.provider, request.settings, key, OWN_KEYS)
        return described_http_error(await http_error(response, request.provider), key, hint)

    url = request.url(DEFAULT_BASE_URL, "/v1/messages")
    parser = MessageStream(request.provider, key)
    headers = build_headers(request.settings, key)
    async for item in post_json(
        session, request, url, payload, parser, headers=headers, on_error=on_error
    ):
        yield item


# --- settings ------------------------------------------------------------------------


def key_env(provider: str, settings: Mapping[str, Any]) -> str:
    """The variable holding the key: ``api_key_env``, else ``ANTHROPIC_API_KEY`` for
    ``anthropic`` and ``<ID>_API_KEY`` for another id (``""``: none)."""
    names = key_variables(provider, settings, OWN_KEYS)
    return names[0] if names else ""


def api_key(provider: str, settings: Mapping[str, Any]) -> Optional[str]:
    """The key: the ``api_key`` setting, else the environment variable, read now."""
    return settings_api_key(provider, settings, OWN_KEYS)


def build_headers(settings: Mapping[str, Any], key: Optional[str]) -> Dict[str, str]:
    """``anthropic-version``, the key (when there is one) and the configured extras."""
    headers = json_headers(settings, "text/event-stream", USER_AGENT)
    headers.setdefault("anthropic-version", API_VERSION)
    if key:
        headers["x-api-key"] = key
    return headers


def _default_max_tokens(settings: Mapping[str, Any]) -> int:
    value = settings.get("max_tokens")
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_TOKENS


__all__ = [
    "API_VERSION",
    "CHATPLUG_SETTINGS",
    "DEFAULT_BASE_URL",
    "MODELS",
    "THINKING_BUDGETS",
    "MessageStream",
    "Model",
    "__version__",
    "api_key",
    "build_headers",
    "build_payload",
    "key_env",
    "list_models",
    "stream_completion",
]
