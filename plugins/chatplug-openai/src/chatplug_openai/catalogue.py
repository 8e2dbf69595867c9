"""Model catalogues: the static OpenAI list, configured lists, and the opt-in on-disk cache.

Every model declares its capabilities (contract 0.2) and its upstream kind.  OpenAI's own
models declare what OpenAI documents for them (:func:`openai_capabilities`); a model of
any other provider (Ollama, vLLM, Groq...) declares :data:`DEFAULT_CAPABILITIES` (tools,
images, JSON schema and object, usage) unless its provider's ``capabilities`` setting
says otherwise.  The upstream kind comes from the base URL (:func:`upstream_kind`):
``official`` for ``api.openai.com``, ``self-hosted`` for a loopback or private address,
``unknown`` otherwise.

``list_models`` never touches the network.  :func:`refresh_models` (opt-in, called by the
user) fetches ``GET {base_url}/models`` once and caches the ids on disk, in the platform's
user cache directory (``platformdirs``), or under ``$CHATPLUG_CACHE_DIR`` when set; the
catalogue then includes them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)
from urllib.parse import urlsplit

from chatplug import ModelInfo, UpstreamHTTPError
from chatplug.model_cache import CACHE_ENV as CACHE_ENV
from chatplug.model_cache import ModelCache
from chatplug.provider_settings import default_key_env as default_key_env
from chatplug.types import (
    CAPABILITIES,
    IMAGES,
    JSON_OBJECT,
    JSON_SCHEMA,
    OFFICIAL,
    REASONING,
    SELF_HOSTED,
    TOOLS,
    UNKNOWN,
    USAGE,
)

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

DEFAULT_PROVIDER = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: the refreshed model lists (``openai-models/<provider>.json``)
CACHE = ModelCache("openai-models")

#: (id, display name) of the static OpenAI catalogue; the first is the default
OPENAI_MODELS: Tuple[Tuple[str, str], ...] = (
    ("gpt-4o-mini", "GPT-4o mini"),
    ("gpt-4o", "GPT-4o"),
    ("gpt-4.1", "GPT-4.1"),
    ("gpt-4.1-mini", "GPT-4.1 mini"),
    ("gpt-4.1-nano", "GPT-4.1 nano"),
    ("o3-mini", "o3-mini"),
    ("o4-mini", "o4-mini"),
    ("gpt-3.5-turbo", "GPT-3.5 Turbo"),
)

#: ids of OpenAI's ``/models`` list that are not chat models (embeddings, audio, images...)
_NOT_CHAT = re.compile(
    r"embedding|whisper|tts|dall-e|davinci|babbage|moderation|audio|realtime|transcribe|image|search"
)
_CHAT = re.compile(r"^(gpt-|o\d|chatgpt-)")

#: what a model of an OpenAI-compatible server is assumed to do, unless configured
DEFAULT_CAPABILITIES: FrozenSet[str] = frozenset({TOOLS, IMAGES, JSON_SCHEMA, JSON_OBJECT, USAGE})
_FULL = DEFAULT_CAPABILITIES
#: OpenAI's models by id prefix (the longest matching prefix wins); others get _FULL
_OPENAI_CAPABILITIES: Tuple[Tuple[str, FrozenSet[str]], ...] = (
    ("gpt-3.5-turbo", frozenset({TOOLS, JSON_OBJECT, USAGE})),
    ("gpt-4-turbo", frozenset({TOOLS, IMAGES, JSON_OBJECT, USAGE})),
    ("gpt-5", _FULL | {REASONING}),
    ("o1-mini", frozenset({USAGE, REASONING})),
    ("o1", _FULL | {REASONING}),
    ("o3-mini", frozenset({TOOLS, JSON_SCHEMA, JSON_OBJECT, USAGE, REASONING})),
    ("o3", _FULL | {REASONING}),
    ("o4-mini", _FULL | {REASONING}),
)
#: the models that take ``max_completion_tokens`` (and reasoning_effort), not ``max_tokens``
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


def is_reasoning_model(model: str) -> bool:
    """Whether ``model`` is one of OpenAI's reasoning models (o-series, gpt-5)."""
    return bool(_REASONING_MODEL.match(model))


def openai_capabilities(model: str) -> FrozenSet[str]:
    """What OpenAI documents for ``model`` (by id prefix; an unknown id gets the default)."""
    best: Optional[Tuple[str, FrozenSet[str]]] = None
    for prefix, capabilities in _OPENAI_CAPABILITIES:
        if model.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, capabilities)
    return best[1] if best is not None else DEFAULT_CAPABILITIES


def upstream_kind(base_url: str) -> str:
    """``official`` for OpenAI's API, ``self-hosted`` for a loopback or private address
    (``localhost``, ``127.0.0.1``, ``10.x``, ``192.168.x``, ``fd00::/8``...), ``unknown``
    for anything else (a hosted gateway or another company's API)."""
    import ipaddress

    host = (urlsplit(base_url).hostname or "").lower()
    if host == "api.openai.com":
        return OFFICIAL
    if host == "localhost" or host.endswith(".localhost"):
        return SELF_HOSTED
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return UNKNOWN
    private = address.is_loopback or address.is_private or address.is_link_local
    return SELF_HOSTED if private else UNKNOWN


def capabilities_setting(provider: str, value: Any) -> Optional[FrozenSet[str]]:
    """The ``capabilities`` setting (a list of names) checked, or ``None`` when unset."""
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"capabilities of provider {provider!r} must be a list of strings")
    unknown = sorted(set(value) - CAPABILITIES)
    if unknown:
        raise ValueError(
            f"unknown capability {unknown[0]!r} for provider {provider!r}; "
            f"known: {', '.join(sorted(CAPABILITIES))}"
        )
    return frozenset(value)


def cache_dir() -> Path:
    """Where refreshed model lists are cached."""
    return CACHE.directory()


def cache_path(provider: str) -> Path:
    """The cache file of ``provider``'s refreshed model list."""
    return CACHE.path(provider)


def cached_model_ids(provider: str) -> List[str]:
    """The model ids cached by :func:`refresh_models` for ``provider`` (empty when none)."""
    return [model for model in CACHE.read(provider) if isinstance(model, str) and model]


def build_catalogue(
    provider: str,
    configured: Optional[Sequence[Any]] = None,
    default: Optional[str] = None,
    *,
    base_url: Optional[str] = None,
    capabilities: Optional[FrozenSet[str]] = None,
) -> List[ModelInfo]:
    """The static catalogue of ``provider``: configured (or built-in) models, then cached ones.

    ``configured`` is the ``models`` setting (ids, or ``{"id", "aliases", "name"}`` tables);
    without it ``openai`` gets :data:`OPENAI_MODELS`.  ``default`` picks the default model.
    ``base_url`` (``None``: OpenAI's) decides the upstream kind; ``capabilities`` (the
    provider's setting) replaces the declared capabilities of every model.
    """
    if base_url:
        kind = upstream_kind(base_url)
    else:
        kind = OFFICIAL if provider == DEFAULT_PROVIDER else UNKNOWN
    official = kind == OFFICIAL

    def model(model_id: str, **fields: Any) -> ModelInfo:
        declared = capabilities
        if declared is None:
            declared = openai_capabilities(model_id) if official else DEFAULT_CAPABILITIES
        return ModelInfo(model_id, provider, capabilities=declared, upstream=kind, **fields)

    models: List[ModelInfo] = []
    if configured:
        for index, item in enumerate(configured):
            models.append(_configured_model(provider, item, index, model))
    elif provider == DEFAULT_PROVIDER:
        models = [
            model(model_id, default=index == 0, name=name)
            for index, (model_id, name) in enumerate(OPENAI_MODELS)
        ]
    known = {item.id for item in models}
    for model_id in cached_model_ids(provider):
        if model_id not in known:
            known.add(model_id)
            models.append(model(model_id, metadata={"source": "cache"}))
    if not models:
        # A provider with no configured models and no cache: the server decides.
        models = [model("default", metadata={"source": "placeholder"})]
    return _with_default(models, default)


def _configured_model(
    provider: str, item: Any, index: int, model: Callable[..., ModelInfo]
) -> ModelInfo:
    if isinstance(item, str):
        return model(item, default=index == 0)
    if isinstance(item, Mapping) and isinstance(item.get("id"), str):
        aliases = item.get("aliases") or ()
        return model(
            item["id"],
            aliases=tuple(str(alias) for alias in aliases),
            default=bool(item.get("default", index == 0)),
            name=item.get("name"),
        )
    raise ValueError(f"models[{index}] of provider {provider!r}: expected a model id, got {item!r}")


def _with_default(models: List[ModelInfo], default: Optional[str]) -> List[ModelInfo]:
    from dataclasses import replace

    if default is None:
        defaults = [model for model in models if model.default]
        if len(defaults) == 1:
            return models
        default = (defaults or models)[0].id
    if default not in {model.id for model in models}:
        first = models[0]
        extra = ModelInfo(
            default, first.provider, capabilities=first.capabilities, upstream=first.upstream
        )
        models = [extra, *models]
    return [replace(model, default=model.id == default) for model in models]


# --- refresh (opt-in, network) --------------------------------------------------------


def _chat_model_ids(ids: Iterable[str], provider: str) -> List[str]:
    ids = sorted(set(ids))
    if provider != DEFAULT_PROVIDER:
        return ids
    return [model for model in ids if _CHAT.match(model) and not _NOT_CHAT.search(model)]


async def async_refresh_models(
    provider: str = DEFAULT_PROVIDER,
    base_url: Optional[str] = None,
    api_key: Optional[str] = None,
    *,
    api_key_env: Optional[str] = None,
    proxy: Optional[str] = None,
    session: "Optional[aiohttp.ClientSession]" = None,
    timeout: float = 30.0,
) -> List[str]:
    """Fetch ``GET {base_url}/models``, cache the ids for ``provider`` and return them.

    ``api_key`` defaults to the environment variable ``api_key_env`` (itself defaulting
    to the provider's, see :func:`default_key_env`).  For provider ``openai`` only chat
    models are kept (no embeddings, audio or image models).  Raises the core's typed
    errors; the key never appears in them.
    """
    import aiohttp

    from .provider import auth_headers, upstream_error

    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    if api_key is None:
        env = default_key_env(provider) if api_key_env is None else api_key_env
        api_key = os.environ.get(env) if env else None
    headers = {"accept": "application/json", **auth_headers(api_key)}
    own = session is None
    client = session if session is not None else aiohttp.ClientSession()
    try:
        async with client.get(
            base + "/models",
            headers=headers,
            proxy=proxy,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            if response.status >= 400:
                raise await upstream_error(response, provider, api_key, api_key_env)
            payload = await response.json(content_type=None)
    finally:
        if own:
            await client.close()
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise UpstreamHTTPError(
            "the /models answer has no 'data' list", status=200, provider=provider
        )
    ids = [
        item["id"] for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)
    ]
    models = _chat_model_ids(ids, provider)
    write_cache(provider, models, base)
    return models


def refresh_models(
    provider: str = DEFAULT_PROVIDER,
    base_url: Optional[str] = None,
    api_key: Optional[str] = None,
    **kwargs: Any,
) -> List[str]:
    """The synchronous :func:`async_refresh_models` (not inside a running event loop)."""
    import asyncio  # here: importing asyncio costs ~20 ms of `chatplug models`

    return asyncio.run(async_refresh_models(provider, base_url, api_key, **kwargs))


def write_cache(provider: str, models: Sequence[str], base_url: str) -> Path:
    """Write ``provider``'s model list to the cache atomically; returns the file."""
    return CACHE.write(provider, models, base_url)


def clear_cache(provider: str) -> bool:
    """Forget ``provider``'s refreshed models; ``True`` when a cache file was removed."""
    return CACHE.clear(provider)
