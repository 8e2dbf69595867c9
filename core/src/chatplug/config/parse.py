"""Parsing ``chatplug.toml``: TOML, then validation of every key.

Every problem is a :class:`~chatplug.ConfigError` naming the file and the key (and, for
TOML syntax and nesting too deep, the line); unknown keys are :class:`ConfigWarning` s.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from ..net import check_proxy, check_url
from ..types import RetryPolicy
from .limits import MAX_DEPTH, too_deep_at, too_deep_key
from .model import (
    DEFAULTS_KEYS,
    FALLBACK_ORDERS,
    PROVIDER_KEYS,
    RETRY_KEYS,
    TIMEOUT_PHASES,
    TOP_KEYS,
    Defaults,
    ProviderConfig,
    warn,
)
from .values import shown, toml_type

Document = Tuple[Defaults, Dict[str, ProviderConfig]]


def _tomllib() -> Any:
    """``tomllib`` (Python 3.11+) or its backport ``tomli``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - version dependent
        import tomli as tomllib
    return tomllib


def load_toml(text: str, where: str) -> Dict[str, Any]:
    """The TOML document ``text`` as a dict (a :class:`ConfigError` with the line when it is
    not TOML or nests deeper than :data:`MAX_DEPTH`)."""
    line = too_deep_at(text)
    if line is not None:
        raise _too_deep(f"{where}: line {line}")
    toml = _tomllib()
    try:
        data: Dict[str, Any] = toml.loads(text)
    except toml.TOMLDecodeError as error:
        raise ConfigError(
            f"{where}: invalid TOML: {error}",
            hint="Fix the syntax at that line (TOML: key = value, [table]).",
        ) from None
    except RecursionError:  # pragma: no cover - too_deep_at found nothing deeper
        raise _too_deep(where) from None
    key = too_deep_key(data)
    if key is not None:
        raise _too_deep(f"{where}: {key}")
    return data


def _too_deep(where: str) -> ConfigError:
    return ConfigError(
        f"{where}: tables and arrays nest more than {MAX_DEPTH} levels deep",
        hint="A chatplug configuration never needs that; check the file.",
    )


# validation ------------------------------------------------------------------------------


def parse_document(data: Mapping[str, Any], where: str) -> Document:
    """``[defaults]`` and the ``[providers.<id>]`` tables of ``data`` (the TOML document as a
    dict), validated; ``where`` names the file in messages."""
    return _Parser(where).parse(data)


class _Parser:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(
            f"{self.where}: {key} must be {expected}, not {toml_type(value)} ({shown(key, value)})"
        )

    def unknown(self, table: str, key: str, known: Sequence[str]) -> None:
        import difflib

        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        extra = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(known)}"
        warn(f"{self.where}: unknown key {key!r} in {table}{extra}")

    def parse(self, data: Mapping[str, Any]) -> Document:
        if not isinstance(data, Mapping):
            raise self.fail("the document", "a table", data)
        for key in data:
            if key not in TOP_KEYS:
                self.unknown("the top level", key, TOP_KEYS)
        raw_defaults = data.get("defaults", {})
        if not isinstance(raw_defaults, Mapping):
            raise self.fail("[defaults]", "a table", raw_defaults)
        raw_providers = data.get("providers", {})
        if not isinstance(raw_providers, Mapping):
            raise self.fail("[providers]", "a table of [providers.<id>] tables", raw_providers)
        providers = {}
        for name, table in raw_providers.items():
            providers[name] = self.provider(name, table)
        return self.defaults(raw_defaults), providers

    def defaults(self, table: Mapping[str, Any]) -> Defaults:
        for key in table:
            if key not in DEFAULTS_KEYS:
                self.unknown("[defaults]", key, DEFAULTS_KEYS)
        model = self.string(table, "model", "[defaults] model")
        providers = self.strings(table, "providers", "[defaults] providers")
        for name in providers:
            self.provider_id(name, "[defaults] providers")
        retry = self.retry(table)
        timeout = self.timeout(table.get("timeout"), "[defaults] timeout")
        proxy = self.string(table, "proxy", "[defaults] proxy", empty=True)
        if proxy:
            check_proxy(proxy, f"{self.where}: [defaults] proxy", usable=False)
        fallback = self.string(table, "fallback", "[defaults] fallback")
        if fallback is not None and fallback not in FALLBACK_ORDERS:
            raise ConfigError(
                f'{self.where}: [defaults] fallback must be "given" or "healthiest", '
                f"not {fallback!r}"
            )
        return Defaults(model, tuple(providers), retry, timeout, proxy, fallback)

    def provider(self, name: str, table: Any) -> ProviderConfig:
        label = f"[providers.{name}]"
        self.provider_id(name, label)
        if not isinstance(table, Mapping):
            raise self.fail(label, "a table", table)
        base_url = self.string(table, "base_url", f"{label} base_url")
        if base_url is not None:
            check_url(base_url, f"{self.where}: {label} base_url")
        proxy = self.string(table, "proxy", f"{label} proxy", empty=True)
        if proxy:
            check_proxy(proxy, f"{self.where}: {label} proxy", usable=False)
        timeout = self.timeout(table.get("timeout"), f"{label} timeout")
        options = table.get("options", {})
        if not isinstance(options, Mapping):
            raise self.fail(
                f"{label} options", "a table (e.g. options = {temperature = 0.2})", options
            )
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self.fail(f"{label} enabled", "true or false", enabled)
        plugin = self.string(table, "plugin", f"{label} plugin")
        if plugin is not None:
            self.provider_id(plugin, f"{label} plugin")
        models = self.strings(table, "models", f"{label} models")
        if models and (plugin is None or plugin == name):
            warn(
                f"{self.where}: {label} models is ignored: it sets the catalogue of providers "
                'declared with plugin = "<id>" only'
            )
            models = []
        extra = {key: value for key, value in table.items() if key not in PROVIDER_KEYS}
        return ProviderConfig(
            name,
            base_url,
            proxy,
            timeout,
            dict(options),
            enabled,
            plugin,
            tuple(models),
            extra,
        )

    def provider_id(self, name: Any, key: str) -> None:
        from ..registry import PROVIDER_ID

        if not isinstance(name, str) or not PROVIDER_ID.match(name):
            raise ConfigError(
                f"{self.where}: {key}: {name!r} is not a provider id "
                "(lowercase letters, digits and '-')"
            )

    def string(
        self, table: Mapping[str, Any], key: str, label: str, *, empty: bool = False
    ) -> Optional[str]:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, str) or (not value and not empty):
            raise self.fail(label, "a non-empty string", value)
        return value

    def strings(self, table: Mapping[str, Any], key: str, label: str) -> List[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(label, "a list of strings", value)
        return list(value)

    def number(self, value: Any, label: str, *, allow_false: bool = False) -> Optional[float]:
        if allow_false and value is False:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            expected = "a positive number of seconds" + (" or false" if allow_false else "")
            raise self.fail(label, expected, value)
        return float(value)

    def timeout(self, value: Any, label: str) -> Dict[str, Optional[float]]:
        if value is None:
            return {}
        if isinstance(value, Mapping):
            result = {}
            for key, item in value.items():
                if key not in TIMEOUT_PHASES:
                    self.unknown(label, key, TIMEOUT_PHASES)
                    continue
                result[key] = self.number(item, f"{label}.{key}", allow_false=True)
            return result
        seconds = self.number(
            value, label + " (a number, or a table of connect/first_byte/idle/total)"
        )
        return {"connect": seconds, "first_byte": seconds, "idle": seconds}

    def retry(self, table: Mapping[str, Any]) -> Optional[RetryPolicy]:
        values: Dict[str, Any] = {}
        raw = table.get("retry")
        if raw is not None:
            if not isinstance(raw, Mapping):
                raise self.fail("[defaults] retry", "a table (attempts, backoff, ...)", raw)
            for key, item in raw.items():
                if key not in RETRY_KEYS:
                    self.unknown("[defaults.retry]", key, RETRY_KEYS)
                    continue
                if key == "attempts":
                    if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                        raise self.fail("[defaults.retry] attempts", "an integer >= 1", item)
                    values[key] = item
                elif isinstance(item, bool) or not isinstance(item, (int, float)) or item < 0:
                    raise self.fail(f"[defaults.retry] {key}", "a number >= 0", item)
                else:
                    values[key] = float(item)
        if "retries" in table:
            retries = table["retries"]
            if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
                raise self.fail("[defaults] retries", "an integer >= 0", retries)
            values["attempts"] = retries + 1
        return RetryPolicy(**values) if values else None
