"""The configuration shown to people (``chatplug config show``): the file's settings, the
merged settings with the source of each, and their TOML rendering, secrets masked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, Mapping

from ..errors import ConfigError
from ..masking import mask, mask_text
from ..net import PROXY_ENV
from ..types import RetryPolicy, Timeout
from .model import DEFAULT_TIMEOUT, RETRY_KEYS, TIMEOUT_PHASES

if TYPE_CHECKING:  # pragma: no cover
    from .document import Config

_BASE_URL_VARIABLE = re.compile(r"^CHATPLUG_([A-Z0-9_]+)_BASE_URL$")


def as_dict(config: "Config", *, masked: bool = True) -> Dict[str, Any]:
    """See :meth:`Config.as_dict <chatplug.config.Config.as_dict>`."""
    shown = mask if masked else _unchanged
    defaults: Dict[str, Any] = {}
    d = config.defaults
    if d.model is not None:
        defaults["model"] = d.model
    if d.providers:
        defaults["providers"] = list(d.providers)
    if d.retry is not None:
        defaults["retry"] = {k: getattr(d.retry, k) for k in RETRY_KEYS}
    if d.timeout:
        defaults["timeout"] = dict(d.timeout)
    if d.proxy is not None:
        defaults["proxy"] = shown(d.proxy)
    if d.fallback is not None:
        defaults["fallback"] = d.fallback
    providers: Dict[str, Any] = {}
    for name in sorted(config.providers):
        table = config.providers[name]
        item: Dict[str, Any] = {}
        for key in ("plugin", "base_url", "proxy"):
            value = getattr(table, key)
            if value is not None:
                item[key] = shown(value)
        if table.models:
            item["models"] = list(table.models)
        if table.timeout:
            item["timeout"] = dict(table.timeout)
        if table.options:
            item["options"] = shown(dict(table.options))
        if not table.enabled:
            item["enabled"] = False
        for key, value in table.extra.items():
            item[key] = shown(value, key)
        providers[name] = item
    shape: Dict[str, Any] = {"defaults": defaults, "providers": providers}
    server = _server(config, masked)
    if server:
        shape["server"] = server
    return shape


def _server(config: "Config", masked: bool) -> Dict[str, Any]:
    """The ``[server]`` table as set in the file (a literal key masked)."""
    server = config.server
    table: Dict[str, Any] = {}
    if server.redis_url is not None:
        table["redis_url"] = mask_text(server.redis_url) if masked else server.redis_url
    if server.keys:
        table["keys"] = [
            {
                "name": key.name,
                "key_env": key.key_env,
                "key": ("***" if masked else key.key) if key.key is not None else None,
                "rpm": key.rpm,
                "tpm": key.tpm,
            }
            for key in server.keys
        ]
    return table


def _unchanged(value: Any, key: str = "") -> Any:
    return value


def effective(config: "Config", env: Mapping[str, str]) -> Dict[str, Any]:
    """The merged settings (file + environment) with their sources, secrets masked."""
    names = set(config.providers)
    for variable in env:
        match = _BASE_URL_VARIABLE.match(variable)
        if match and env[variable]:
            names.add(match.group(1).lower().replace("_", "-"))
    shown = as_dict(config)
    defaults = shown["defaults"]
    d = config.defaults
    timeout = Timeout(**d.timeout) if d.timeout else DEFAULT_TIMEOUT
    defaults["timeout"] = timeout_dict(timeout)
    retry = d.retry or RetryPolicy()
    defaults["retry"] = {key: getattr(retry, key) for key in RETRY_KEYS}
    defaults.setdefault("fallback", "given")
    providers: Dict[str, Any] = {}
    for name in sorted(names):
        try:
            route = config.route(name, environ=env)
        except ConfigError as error:
            providers[name] = {"error": mask_text(error.message)}
            continue
        item = dict(shown["providers"].get(name, {}))
        item["base_url"] = mask_text(route.base_url) if route.base_url else None
        item["proxy"] = mask_text(route.proxy) if route.proxy else None
        item["timeout"] = timeout_dict(route.timeout)
        item["sources"] = dict(route.sources)
        providers[name] = item
    exists = config.path is None or config.path.exists()
    variables = [PROXY_ENV] + [
        spelling
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
        for spelling in (name.lower(), name)
    ]
    return {
        "file": config.location,
        "exists": exists,
        "environment": {name: mask_text(env[name]) for name in variables if env.get(name)},
        "defaults": defaults,
        "providers": providers,
        **({"server": shown["server"]} if "server" in shown else {}),
    }


def timeout_dict(timeout: Timeout) -> Dict[str, Any]:
    """Phases in seconds; ``false`` for a disabled one (as the file spells it)."""
    return {phase: getattr(timeout, phase) or False for phase in TIMEOUT_PHASES}


def toml_value(value: Any) -> str:
    """``value`` in TOML syntax (inline tables and arrays on one line)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _quoted(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{k} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    return _quoted(str(value))


def _quoted(text: str, *, ensure_ascii: bool = True) -> str:
    import json  # not needed on the way to a configuration

    return json.dumps(text, ensure_ascii=ensure_ascii)


def render(effective: Mapping[str, Any]) -> str:
    """``chatplug config show``'s text: TOML, with each value's source as a comment."""
    lines = [f"# file: {effective['file']}"]
    if not effective.get("exists", True):
        lines.append("# (the file does not exist: built-in defaults and the environment only)")
    for name, value in effective.get("environment", {}).items():
        lines.append(f"# env {name} = {value}")
    lines += ["", "[defaults]"]
    for key, value in effective["defaults"].items():
        lines.append(f"{key} = {toml_value(value)}")
    for name, item in effective["providers"].items():
        lines += ["", f"[providers.{name}]"]
        sources = item.get("sources", {})
        for key, value in item.items():
            if key == "sources":
                continue
            if value is None:
                lines.append(f"# {key}: {sources.get(key, 'not set')}")
                continue
            comment = f"  # {sources[key]}" if key in sources else ""
            lines.append(f"{key} = {toml_value(value)}{comment}")
    server = effective.get("server", {})
    if "redis_url" in server:
        lines += ["", "[server]", f"redis_url = {toml_value(server['redis_url'])}"]
    for key in server.get("keys", ()):
        lines += ["", "[[server.keys]]"]
        lines += [f"{name} = {toml_value(value)}" for name, value in key.items() if value]
    return "\n".join(lines) + "\n"
