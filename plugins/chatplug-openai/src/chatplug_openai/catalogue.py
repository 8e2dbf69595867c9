"""Model catalogues: the static OpenAI list, configured lists, and the opt-in on-disk cache.

``list_models`` never touches the network.  :func:`refresh_models` (opt-in, called by the
user) fetches ``GET {base_url}/models`` once and caches the ids on disk, in the platform's
user cache directory (``platformdirs``), or under ``$CHATPLUG_CACHE_DIR`` when set; the
catalogue then includes them.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from chatplug import ModelInfo, UpstreamHTTPError

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

DEFAULT_PROVIDER = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
CACHE_ENV = "CHATPLUG_CACHE_DIR"

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
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def default_key_env(provider: str) -> str:
    """The environment variable holding ``provider``'s API key when not configured.

    ``openai`` → ``OPENAI_API_KEY``; any other id → ``<ID>_API_KEY`` (``groq`` →
    ``GROQ_API_KEY``, ``my-vllm`` → ``MY_VLLM_API_KEY``).  An OpenAI key is never sent
    to another provider by default.
    """
    return re.sub(r"[^A-Za-z0-9]", "_", provider).upper() + "_API_KEY"


def cache_dir() -> Path:
    """Where refreshed model lists are cached."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override) / "openai-models"
    import platformdirs

    return Path(platformdirs.user_cache_dir("chatplug")) / "openai-models"


def cache_path(provider: str) -> Path:
    """The cache file of ``provider``'s refreshed model list."""
    if not _PROVIDER_ID.match(provider):
        raise ValueError(f"invalid provider id {provider!r}: use lowercase letters, digits and '-'")
    return cache_dir() / f"{provider}.json"


def cached_model_ids(provider: str) -> List[str]:
    """The model ids cached by :func:`refresh_models` for ``provider`` (empty when none)."""
    try:
        data = json.loads(cache_path(provider).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        return []
    return [model for model in models if isinstance(model, str) and model]


def build_catalogue(
    provider: str,
    configured: Optional[Sequence[Any]] = None,
    default: Optional[str] = None,
) -> List[ModelInfo]:
    """The static catalogue of ``provider``: configured (or built-in) models, then cached ones.

    ``configured`` is the ``models`` setting (ids, or ``{"id", "aliases", "name"}`` tables);
    without it ``openai`` gets :data:`OPENAI_MODELS`.  ``default`` picks the default model.
    """
    models: List[ModelInfo] = []
    if configured:
        for index, item in enumerate(configured):
            models.append(_configured_model(provider, item, index))
    elif provider == DEFAULT_PROVIDER:
        models = [
            ModelInfo(model_id, provider, default=index == 0, name=name)
            for index, (model_id, name) in enumerate(OPENAI_MODELS)
        ]
    known = {model.id for model in models}
    for model_id in cached_model_ids(provider):
        if model_id not in known:
            known.add(model_id)
            models.append(ModelInfo(model_id, provider, metadata={"source": "cache"}))
    if not models:
        # A provider with no configured models and no cache: the server decides.
        models = [ModelInfo("default", provider, metadata={"source": "placeholder"})]
    return _with_default(models, default)


def _configured_model(provider: str, item: Any, index: int) -> ModelInfo:
    if isinstance(item, str):
        return ModelInfo(item, provider, default=index == 0)
    if isinstance(item, Mapping) and isinstance(item.get("id"), str):
        aliases = item.get("aliases") or ()
        return ModelInfo(
            item["id"],
            provider,
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
        models = [ModelInfo(default, models[0].provider), *models]
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
    path = cache_path(provider)
    path.parent.mkdir(parents=True, exist_ok=True)
    record: Dict[str, Any] = {
        "provider": provider,
        "base_url": base_url,
        "fetched_at": int(time.time()),
        "models": list(models),
    }
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(record, indent=1), encoding="utf-8")
    os.replace(partial, path)
    return path


def clear_cache(provider: str) -> bool:
    """Forget ``provider``'s refreshed models; ``True`` when a cache file was removed."""
    try:
        cache_path(provider).unlink()
    except FileNotFoundError:
        return False
    return True
