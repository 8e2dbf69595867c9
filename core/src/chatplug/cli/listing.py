"""``chatplug plugins``, ``chatplug models`` and ``chatplug --version``: what is installed.

All three read installed metadata and never import a plugin unless asked (``plugins
--check``, ``models``), nor asyncio or aiohttp.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import click

from .. import __version__
from .errors import safe_line
from .output import json_text, table

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import PluginInfo, Registry


#: ``chatplug.registry.ENTRY_POINT_GROUP``, read here without importing the registry (and
#: the dataclasses under it): ``--version`` only reads metadata
PROVIDERS_GROUP = "chatplug.providers"
#: ``chatplug.hookspecs.CONTRACT_VERSION``, the plugin contract this core implements, read
#: here without importing the hook specifications (and pluggy under them)
CONTRACT_VERSION = "0.2"


def _provider_entry_points() -> List[Any]:
    """The installed provider entry points, first one per name, sorted by name (the
    registry's rule)."""
    if sys.version_info >= (3, 10):  # pragma: no cover - version dependent
        from importlib import metadata
    else:  # pragma: no cover
        import importlib_metadata as metadata
    found: Dict[str, Any] = {}
    for entry in metadata.entry_points(group=PROVIDERS_GROUP):
        found.setdefault(entry.name, entry)
    return [found[name] for name in sorted(found)]


def version_text() -> str:
    """The core's version, its plugin contract's, and each installed plugin
    distribution's (metadata only)."""
    python = ".".join(str(part) for part in sys.version_info[:3])
    lines = [f"chatplug {__version__} (plugin contract {CONTRACT_VERSION}; Python {python})"]
    dists: Dict[str, Tuple[str, List[str]]] = {}
    for entry in _provider_entry_points():
        dist = getattr(entry, "dist", None)
        metadata = dist.metadata if dist is not None else None  # parsed once per entry
        name = metadata["Name"] if metadata is not None else entry.value.split(":")[0]
        version = metadata["Version"] if metadata is not None else "unknown"
        dists.setdefault(name, (version, []))[1].append(entry.name)
    if dists:
        lines.append("plugins:")
        for name in sorted(dists, key=str.lower):
            version, providers = dists[name]
            lines.append(f"  {name} {version} (providers: {', '.join(providers)})")
    else:
        lines.append("plugins: none installed")
    return "\n".join(lines)


def _registry() -> "Registry":
    """The registry the configuration describes (virtual providers, disabled ones)."""
    from ..config import load_config

    return load_config().registry()


def _check_plugins(registry: "Registry") -> Dict[str, int]:
    """Load every enabled plugin and validate its catalogue; model counts by provider."""
    from ..errors import PluginLoadError
    from ..registry import FAILED

    counts: Dict[str, int] = {}
    for provider in registry.load_all():
        try:
            counts[provider.name] = len(provider.models())
        except PluginLoadError as error:
            provider.info.status, provider.info.error = FAILED, error.message
    return counts


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option(
    "--check", is_flag=True, help="Import and validate every plugin (exit 15 if one fails)."
)
def plugins_command(as_json: bool, check: bool) -> None:
    """List the installed provider plugins.

    Reads installed metadata without importing any plugin, so every enabled plugin is
    "available"; with --check each one is imported and validated ("loaded" or "failed",
    with the error).  Plugins left out by CHATPLUG_PLUGINS are "disabled".  The first
    line (each item's "contract_version" in JSON) is the plugin contract chatplug serves.
    """
    from ..health import CircuitBreaker
    from ..registry import AVAILABLE, FAILED, LOADED

    registry = _registry()
    counts = _check_plugins(registry) if check else {}
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
            if check:
                item["models"] = counts.get(info.name)
            items.append(item)
        click.echo(json_text(items))
    elif not infos:
        click.echo("No provider plugins installed; try 'pip install chatplug-vitalentum'.")
    else:
        headers = ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "HEALTH"]
        if check:
            headers.append("MODELS")
        rows = []
        for info in infos:
            row = [info.name, info.distribution or "-", info.version or "-", info.status]
            row.append(health(info) or "-")
            if check:
                row.append(str(counts.get(info.name, "-")))
            rows.append(row)
        click.echo(f"chatplug {__version__}, plugin contract {CONTRACT_VERSION}")
        click.echo(table(headers, rows))
        for info in infos:
            if info.error:
                click.echo(f"{info.name}: {safe_line(info.error)}")
    failed = [info.name for info in infos if info.status == FAILED]
    if check and failed:
        from ..errors import PluginLoadError

        raise PluginLoadError(
            f"{len(failed)} plugin(s) failed to load: {', '.join(failed)}",
            hint="See the errors above; reinstall the plugin, "
            "or leave it out with CHATPLUG_PLUGINS.",
        )


def _warn_failed_plugins(registry: "Registry") -> None:
    from ..registry import FAILED

    for info in registry.plugins():
        if info.status == FAILED:
            click.echo(
                f"Warning: plugin {info.name!r} failed to load: {safe_line(info.error or '')}",
                err=True,
            )


@click.command("models")
@click.option("-p", "--provider", help="Only this provider's models.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def models_command(provider: Optional[str], as_json: bool) -> None:
    """List every model of every provider, with its aliases; * marks each default."""
    registry = _registry()
    models = registry.models(provider)
    if not provider:
        _warn_failed_plugins(registry)
    if as_json:
        items = [
            {
                "id": model.id,
                "provider": model.provider,
                "qualified_id": model.qualified_id,
                "aliases": list(model.aliases),
                "default": model.default,
                "name": model.name,
                "metadata": dict(model.metadata),
            }
            for model in models
        ]
        click.echo(json_text(items))
        return
    if not models:
        click.echo("No models: no provider plugin is installed or enabled.")
        return
    rows = [
        [
            model.qualified_id,
            "*" if model.default else "",
            ", ".join(model.aliases),
        ]
        for model in models
    ]
    click.echo(table(["MODEL", "DEFAULT", "ALIASES"], rows))
