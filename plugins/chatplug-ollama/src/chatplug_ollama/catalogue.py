"""The model catalogue: built-in defaults, or what an opt-in refresh found on the server.

``list_models`` never touches the network.  :func:`refresh_models` (called by the user)
asks the server ``GET /api/tags`` for its models and ``POST /api/show`` for each one's
capabilities, and caches them on disk in the user cache directory (``platformdirs``), or
under ``$CHATPLUG_CACHE_DIR``; the catalogue is then exactly the server's models.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

from chatplug import ModelInfo, UpstreamHTTPError
from chatplug.model_cache import CACHE_ENV as CACHE_ENV
from chatplug.model_cache import ModelCache
from chatplug.types import IMAGES, JSON_OBJECT, JSON_SCHEMA, REASONING, SELF_HOSTED, TOOLS, USAGE

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

PROVIDER = "ollama"
DEFAULT_BASE_URL = "http://127.0.0.1:11434"
#: the refreshed model lists (``ollama-models/<provider>.json``)
CACHE = ModelCache("ollama-models")
#: what every model served by Ollama can do
BASE_CAPABILITIES = frozenset({JSON_OBJECT, JSON_SCHEMA, USAGE})
#: Ollama's capability names (``/api/show``) → chatplug's
OLLAMA_CAPABILITIES = {"tools": TOOLS, "vision": IMAGES, "thinking": REASONING}

#: (model, its Ollama capabilities) of the built-in catalogue; the first is the default
DEFAULT_MODELS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("llama3.2", ("tools",)),
    ("llama3.1", ("tools",)),
    ("qwen3", ("tools", "thinking")),
    ("qwen2.5", ("tools",)),
    ("gpt-oss", ("tools", "thinking")),
    ("deepseek-r1", ("thinking",)),
    ("mistral", ("tools",)),
    ("gemma3", ("vision",)),
    ("qwen2.5vl", ("vision",)),
    ("llava", ("vision",)),
)


def capabilities(names: Iterable[str]) -> FrozenSet[str]:
    """chatplug capabilities of a model from Ollama's capability names."""
    return BASE_CAPABILITIES | {OLLAMA_CAPABILITIES[n] for n in names if n in OLLAMA_CAPABILITIES}


def build_catalogue(provider: str = PROVIDER) -> List[ModelInfo]:
    """The refreshed models of ``provider`` when cached, else the built-in defaults."""
    cached = cached_models(provider)
    models = cached if cached else [(name, list(caps)) for name, caps in DEFAULT_MODELS]
    source = "cache" if cached else "default"
    infos: List[ModelInfo] = []
    taken = {name for name, _ in models}
    for index, (name, names) in enumerate(models):
        short = name[: -len(":latest")] if name.endswith(":latest") else None
        infos.append(
            ModelInfo(
                name,
                provider,
                aliases=(short,) if short and short not in taken else (),
                default=index == 0,
                metadata={"source": source, "ollama_capabilities": tuple(names)},
                capabilities=capabilities(names),
                upstream=SELF_HOSTED,
            )
        )
    return infos


# --- the cache ------------------------------------------------------------------------


def cache_path(provider: str) -> Path:
    """The cache file of ``provider``'s refreshed model list."""
    return CACHE.path(provider)


def cached_models(provider: str) -> List[Tuple[str, List[str]]]:
    """``(model, Ollama capabilities)`` cached by :func:`refresh_models` (empty: none)."""
    return [
        (item["id"], [str(name) for name in item.get("capabilities") or ()])
        for item in CACHE.read(provider)
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]
    ]


def write_cache(provider: str, models: List[Dict[str, Any]], base_url: str) -> Path:
    """Write ``provider``'s models atomically; returns the file."""
    return CACHE.write(provider, models, base_url)


def clear_cache(provider: str = PROVIDER) -> bool:
    """Forget ``provider``'s refreshed models; ``True`` when a cache file was removed."""
    return CACHE.clear(provider)


# --- refresh (opt-in, network) --------------------------------------------------------


async def async_refresh_models(
    provider: str = PROVIDER,
    base_url: Optional[str] = None,
    *,
    headers: Optional[Dict[str, str]] = None,
    proxy: Optional[str] = None,
    session: "Optional[aiohttp.ClientSession]" = None,
    timeout: float = 30.0,
) -> List[str]:
    """Fetch the server's models and their capabilities, cache them, return their names."""
    import aiohttp
    from chatplug import http_error

    from .stream import described_http_error

    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    own = session is None
    client = session if session is not None else aiohttp.ClientSession()
    options: Dict[str, Any] = {
        "headers": headers,
        "proxy": proxy,
        "timeout": aiohttp.ClientTimeout(total=timeout),
    }
    try:
        async with client.get(base + "/api/tags", **options) as response:
            if response.status >= 400:
                raise described_http_error(await http_error(response, provider))
            listing = await response.json(content_type=None)
        listed = listing.get("models") if isinstance(listing, dict) else None
        if not isinstance(listed, list):
            raise UpstreamHTTPError(
                "the /api/tags answer has no 'models' list", status=200, provider=provider
            )
        names = [
            item["name"]
            for item in listed
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        ]
        models: List[Dict[str, Any]] = []
        for name in names:
            async with client.post(base + "/api/show", json={"model": name}, **options) as shown:
                if shown.status >= 400:
                    raise described_http_error(await http_error(shown, provider))
                details = await shown.json(content_type=None)
            found = details.get("capabilities") if isinstance(details, dict) else None
            models.append({"id": name, "capabilities": [str(c) for c in found or ()]})
    finally:
        if own:
            await client.close()
    write_cache(provider, models, base)
    return names


def refresh_models(
    provider: str = PROVIDER, base_url: Optional[str] = None, **kwargs: Any
) -> List[str]:
    """The synchronous :func:`async_refresh_models` (not inside a running event loop)."""
    import asyncio

    return asyncio.run(async_refresh_models(provider, base_url, **kwargs))
