"""What a configuration does to plugins: the registry it binds to (virtual providers added,
``enabled = false`` providers disabled) and each provider's own settings, validated.

The process-wide default registry is never changed: a configuration that changes it gets a
private registry, cached per (``CHATPLUG_PLUGINS``, those tables) for the process.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple

from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import Provider, Registry
    from .document import Config

#: name of the plugin attribute declaring its extra settings: ``{"api_key_env": str}``
SETTINGS_ATTRIBUTE = "CHATPLUG_SETTINGS"

_REGISTRIES: Dict[Tuple[Any, ...], "Registry"] = {}
_REGISTRIES_LOCK = threading.Lock()


def changes_registry(config: "Config") -> bool:
    """Whether ``config`` declares virtual providers or disables some."""
    return any(p.virtual or not p.enabled for p in config.providers.values())


def bind_registry(config: "Config", registry: Optional["Registry"] = None) -> "Registry":
    """See :meth:`Config.registry <chatplug.config.Config.registry>`."""
    from ..registry import Registry, default_registry, enabled_from_env

    if registry is None or registry is default_registry():
        if changes_registry(config):
            key = (enabled_from_env(), _fingerprint(config))
            with _REGISTRIES_LOCK:
                found = _REGISTRIES.get(key)
                if found is None:
                    found = apply(config, Registry())
                    _REGISTRIES[key] = found
            registry = found
        else:
            registry = default_registry()
    else:
        apply(config, registry)
    check(config, registry)
    return registry


def apply(config: "Config", registry: "Registry") -> "Registry":
    """Add ``config``'s virtual providers to ``registry`` and disable providers."""
    if not changes_registry(config):
        return registry
    known = {info.name for info in registry.plugins()}
    for table in config.providers.values():
        if not table.virtual:
            continue
        assert table.plugin is not None
        where = f"{config.location}: [providers.{table.name}]"
        if table.plugin not in known:
            raise ConfigError(
                f"{where}: plugin = {table.plugin!r} is not an installed provider; "
                f"installed providers: {_listing(known)}",
                hint=f"Install chatplug-{table.plugin}, or name an installed plugin.",
            )
        try:
            registry.add_virtual_provider(
                table.name, table.plugin, models=table.models, settings=table.extra
            )
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
        known.add(table.name)
    for table in config.providers.values():
        if not table.enabled:
            registry.disable(table.name)
    return registry


def check(config: "Config", registry: "Registry") -> None:
    """Raise :class:`ConfigError` when ``config`` names providers ``registry`` lacks."""
    if config.empty:
        return
    known = {info.name for info in registry.plugins()}
    for table in config.providers.values():
        if table.name not in known:
            raise ConfigError(
                f"{config.location}: [providers.{table.name}]: unknown provider "
                f"{table.name!r}; installed providers: {_listing(known)}",
                hint="Fix the name, install the plugin, or declare a new provider served "
                'by an installed plugin with plugin = "<id>" (e.g. plugin = "openai").',
            )
    for name in config.defaults.providers:
        if name not in known:
            raise ConfigError(
                f"{config.location}: [defaults] providers: unknown provider {name!r}; "
                f"installed providers: {_listing(known)}"
            )


def validate_settings(
    location: str, provider: "Provider", values: Dict[str, Any]
) -> Dict[str, Any]:
    """``values`` (the provider's own settings) checked against the plugin's declaration
    (see :meth:`Config.settings <chatplug.config.Config.settings>`)."""
    from .model import PROVIDER_KEYS, warn
    from .values import is_instance, shown, toml_type, type_name

    declared = getattr(provider.plugin, SETTINGS_ATTRIBUTE, None)
    where = f"{location}: [providers.{provider.name}]"
    if not isinstance(declared, Mapping):
        import difflib

        for key in values:
            close = difflib.get_close_matches(key, PROVIDER_KEYS, n=1, cutoff=0.75)
            if close:
                warn(f"{where}: unknown key {key!r} (did you mean {close[0]!r}?)")
        return values
    accepted: Dict[str, Any] = {}
    for key, value in values.items():
        if key not in declared:
            known = sorted(set(PROVIDER_KEYS) | set(declared))
            warn(f"{where}: unknown key {key!r}; known keys: {', '.join(known)}")
            continue
        expected = declared[key]
        if not is_instance(value, expected):
            raise ConfigError(
                f"{where}: {key} must be {type_name(expected)}, "
                f"not {toml_type(value)} ({shown(key, value)})"
            )
        accepted[key] = value
    return accepted


def _fingerprint(config: "Config") -> Tuple[Any, ...]:
    return tuple(
        (p.name, p.plugin, p.models, p.enabled, _freeze(p.extra))
        for p in sorted(config.providers.values(), key=lambda p: p.name)
        if p.virtual or not p.enabled
    )


def _listing(names: Any) -> str:
    return ", ".join(sorted(names)) or "none installed"


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value
