"""The opt-in on-disk cache of model lists that a plugin refreshed from a server.

``list_models`` never touches the network; a plugin whose server can list its models offers
a ``refresh_models()`` that the user calls, and keeps the answer here so that the catalogue
includes it from then on::

    CACHE = ModelCache("acme-models")
    CACHE.write("acme", ["m1", "m2"], base_url)  # after GET {base_url}/models
    CACHE.read("acme")  # ["m1", "m2"]; [] when nothing was cached

A provider's list is one JSON file ``<folder>/<provider>.json`` (``{"provider",
"base_url", "fetched_at", "models"}``, written atomically) under ``$CHATPLUG_CACHE_DIR``,
else the platform's user cache directory for chatplug (``platformdirs``).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

__all__ = ["CACHE_ENV", "ModelCache", "cache_root"]

#: the environment variable that moves every cache (tests use it)
CACHE_ENV = "CHATPLUG_CACHE_DIR"
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def cache_root() -> Path:
    """``$CHATPLUG_CACHE_DIR``, else the user cache directory for chatplug."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    import platformdirs  # here: it is slow to import

    return Path(platformdirs.user_cache_dir("chatplug"))


class ModelCache:
    """The cached model lists of one plugin, in the folder ``folder`` of :func:`cache_root`."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def directory(self) -> Path:
        return cache_root() / self.folder

    def path(self, provider: str) -> Path:
        """The cache file of ``provider`` (:class:`ValueError` for an id that is not one)."""
        if not _PROVIDER_ID.match(provider):
            raise ValueError(
                f"invalid provider id {provider!r}: use lowercase letters, digits and '-'"
            )
        return self.directory() / f"{provider}.json"

    def read(self, provider: str) -> List[Any]:
        """The ``models`` list cached for ``provider`` (empty when none or unreadable)."""
        try:
            data = json.loads(self.path(provider).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        models = data.get("models") if isinstance(data, dict) else None
        return models if isinstance(models, list) else []

    def write(self, provider: str, models: Sequence[Any], base_url: str) -> Path:
        """Write ``provider``'s models atomically; returns the file."""
        path = self.path(provider)
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

    def clear(self, provider: str) -> bool:
        """Forget ``provider``'s models; ``True`` when a cache file was removed."""
        try:
            self.path(provider).unlink()
        except FileNotFoundError:
            return False
        return True
