"""Finding installed providers: the entry points, and what is known before any import.

Providers are found through the entry-point group ``chatplug.providers``, read from
installed metadata by importlib-metadata without importing the plugins.
``CHATPLUG_PLUGINS`` (a comma list of provider names) limits what loads.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    if sys.version_info >= (3, 10):
        from importlib import metadata
    else:
        import importlib_metadata as metadata

ENTRY_POINT_GROUP = "chatplug.providers"
EMULATOR_GROUP = "chatplug.emulators"
PLUGINS_ENV = "CHATPLUG_PLUGINS"
PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")

AVAILABLE, LOADED, DISABLED, FAILED = "available", "loaded", "disabled", "failed"
#: seconds a plugin's ``list_models`` may take (``Registry(list_models_timeout=...)``)
LIST_MODELS_TIMEOUT = 5.0


@dataclass
class PluginInfo:
    """An installed provider: where it comes from and whether it loaded.

    ``value`` is the entry point's object reference (``"<plugin> (virtual)"`` for a
    provider declared in the configuration, kept as it was for compatibility);
    ``plugin`` is the installed provider whose hooks serve a declared (virtual) provider,
    ``None`` for an installed one.
    """

    name: str
    distribution: Optional[str]
    version: Optional[str]
    value: str
    status: str = AVAILABLE
    error: Optional[str] = None
    plugin: Optional[str] = None

    @property
    def serving(self) -> str:
        """The installed provider whose hooks answer: ``plugin``, or else ``name``."""
        return self.plugin or self.name

    def as_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "value": self.value,
            "status": self.status,
            "error": self.error,
            "plugin": self.plugin,
        }


def enabled_from_env() -> Optional[FrozenSet[str]]:
    """The provider names ``CHATPLUG_PLUGINS`` allows, or ``None`` when it is unset."""
    raw = os.environ.get(PLUGINS_ENV)
    if raw is None:
        return None
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def entry_points(group: str) -> List["metadata.EntryPoint"]:
    """The installed entry points of ``group`` (read by importlib-metadata from installed
    metadata, importing nothing), first one per name, sorted by name."""
    if sys.version_info >= (3, 10):  # pragma: no cover - version dependent
        from importlib import metadata
    else:  # pragma: no cover
        import importlib_metadata as metadata
    found: Dict[str, metadata.EntryPoint] = {}
    for entry in metadata.entry_points(group=group):
        found.setdefault(entry.name, entry)
    return [found[name] for name in sorted(found)]


def distribution_of(entry: "metadata.EntryPoint") -> Tuple[Optional[str], Optional[str]]:
    """The name and version of the distribution that installed ``entry`` (``None, None``
    when unknown).

    Read from the same file as ``dist.metadata`` (``METADATA``, else ``PKG-INFO``), once,
    and only its header block: what follows the first blank line is the long
    description, a plugin's whole README, which ``dist.metadata`` parses too (and
    ``dist.version`` a second time).
    """
    dist = getattr(entry, "dist", None)
    if dist is None:
        return None, None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        return dist.metadata["Name"], dist.version
    from email.parser import HeaderParser

    headers = HeaderParser().parsestr(text.split("\n\n", 1)[0])
    return headers["Name"], headers["Version"]
