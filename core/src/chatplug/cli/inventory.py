"""What is installed, as the command line shows it: ``chatplug --version`` and the
``chatplug plugins`` report, built without click (:mod:`~chatplug.cli.listing` prints
them as commands, :mod:`~chatplug.cli.quick` without the command-line parser).

Both read installed metadata only: no plugin is imported unless ``--check`` asks for it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Tuple

from .. import __version__
from ..discovery import AVAILABLE, ENTRY_POINT_GROUP, LOADED, distribution_of, entry_points
from .console import safe_line
from .output import json_text, table

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import PluginInfo, Registry


#: ``chatplug.hookspecs.CONTRACT_VERSION``, the plugin contract this core implements, read
#: here without importing the hook specifications (and pluggy under them)
CONTRACT_VERSION = "0.2"


def version_text() -> str:
    """The core's version, its plugin contract's, and each installed plugin
    distribution's (metadata only)."""
    python = ".".join(str(part) for part in sys.version_info[:3])
    lines = [f"chatplug {__version__} (plugin contract {CONTRACT_VERSION}; Python {python})"]
    dists: Dict[str, Tuple[str, List[str]]] = {}
    for entry in entry_points(ENTRY_POINT_GROUP):
        name, version = distribution_of(entry)
        name = name or entry.value.split(":")[0]
        dists.setdefault(name, (version or "unknown", []))[1].append(entry.name)
    if dists:
        lines.append("plugins:")
        for name in sorted(dists, key=str.lower):
            version, providers = dists[name]
            lines.append(f"  {name} {version} (providers: {', '.join(providers)})")
    else:
        lines.append("plugins: none installed")
    return "\n".join(lines)


def configured_registry() -> "Registry":
    """The registry the configuration describes (virtual providers, disabled ones)."""
    from ..config import load_config

    return load_config().registry()


def plugins_report(
    registry: "Registry", as_json: bool, counts: Optional[Mapping[str, int]] = None
) -> str:
    """What ``chatplug plugins`` prints: a table (or a JSON list) of the installed and
    declared providers, with each one's health; with ``counts`` (``--check``), each
    one's number of models."""
    from ..health import CircuitBreaker

    infos: List[PluginInfo] = registry.plugins()
    breaker = CircuitBreaker()

    def health(info: PluginInfo) -> Optional[str]:
        return breaker.describe(info.name) if info.status in (AVAILABLE, LOADED) else None

    if as_json:
        items = []
        for info in infos:
            item = info.as_dict()
            item["health"] = health(info)
            item["contract_version"] = CONTRACT_VERSION
            if counts is not None:
                item["models"] = counts.get(info.name)
            items.append(item)
        return json_text(items)
    if not infos:
        return "No provider plugins installed; try 'pip install chatplug-vitalentum'."
    headers = ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "HEALTH"]
    if counts is not None:
        headers.append("MODELS")
    rows = []
    for info in infos:
        row = [info.name, info.distribution or "-", info.version or "-", info.status]
        row.append(health(info) or "-")
        if counts is not None:
            row.append(str(counts.get(info.name, "-")))
        rows.append(row)
    lines = [f"chatplug {__version__}, plugin contract {CONTRACT_VERSION}", table(headers, rows)]
    lines += [f"{info.name}: {safe_line(info.error)}" for info in infos if info.error]
    return "\n".join(lines)
