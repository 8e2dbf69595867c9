"""``chatplug plugins`` and ``chatplug models``: what is installed (``--version`` and the
plugins report are built in :mod:`~chatplug.cli.inventory`).

They read installed metadata and never import a plugin unless asked (``plugins
--check``, ``models``), nor asyncio or aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional

import click

from .console import safe_line
from .inventory import CONTRACT_VERSION, configured_registry, plugins_report, version_text
from .output import json_text, table

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import Registry

__all__ = ["CONTRACT_VERSION", "models_command", "plugins_command", "version_text"]


_registry = configured_registry


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
    from ..registry import FAILED

    registry = _registry()
    counts = _check_plugins(registry) if check else None
    click.echo(plugins_report(registry, as_json, counts))
    infos = registry.plugins()
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
