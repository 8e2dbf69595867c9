"""Configuration: ``chatplug.toml``, environment variables and their precedence.

The file is found at ``$CHATPLUG_CONFIG`` (an empty value turns the file off), else at
``platformdirs.user_config_dir("chatplug")/chatplug.toml``.  It is read lazily: when a
client is created or a command needs it, never at ``import chatplug``.

Precedence, highest first: an explicit argument (``AsyncClient(proxy=...)``, ``stream(
base_url=...)``) > the environment (``CHATPLUG_PROXY``, ``CHATPLUG_<PROVIDER>_BASE_URL``,
``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` with ``NO_PROXY``) > the file (a
``[providers.<id>]`` table, then ``[defaults]``) > the plugin's own default.

See ``docs/configuration.md`` for every key.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import json
import os
import re
import sys
import threading
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)
from urllib.parse import unquote, urlsplit

from .errors import ConfigError
from .types import RetryPolicy, Timeout

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

    from .registry import Provider, Registry

CONFIG_ENV = "CHATPLUG_CONFIG"
PROXY_ENV = "CHATPLUG_PROXY"
FILENAME = "chatplug.toml"
#: name of the plugin attribute declaring its extra settings: ``{"api_key_env": str}``
SETTINGS_ATTRIBUTE = "CHATPLUG_SETTINGS"

HTTP_SCHEMES = ("http", "https")
SOCKS_SCHEMES = ("socks5", "socks5h")
PROXY_SCHEMES = HTTP_SCHEMES + SOCKS_SCHEMES
TIMEOUT_PHASES = ("connect", "first_byte", "idle", "total")
RETRY_KEYS = ("attempts", "backoff", "max_backoff", "max_time", "jitter")
FALLBACK_ORDERS = ("given", "healthiest")

DEFAULTS_KEYS = ("model", "providers", "retries", "retry", "timeout", "proxy", "fallback")
PROVIDER_KEYS = ("base_url", "proxy", "timeout", "options", "enabled", "plugin", "models")
TOP_KEYS = ("defaults", "providers")

_SECRET_KEY = re.compile(r"(key|token|secret|passw|auth|credential)", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'\"]+@")

PartialTimeout = Mapping[str, Optional[float]]


class ConfigWarning(UserWarning):
    """A configuration problem that does not stop chatplug (e.g. an unknown key)."""


# masking ---------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` (safe to print or log)."""
    return _URL_CREDENTIALS.sub(r"\1***@", url)


mask_credentials = mask_url  # the same substitution works on any text holding URLs


def is_secret_key(key: str) -> bool:
    """Whether a setting's value is a secret to mask (``api_key`` yes, ``api_key_env`` no)."""
    return bool(_SECRET_KEY.search(key)) and not key.lower().endswith("_env")


def mask_secrets(key: str, value: Any) -> Any:
    """``value`` with secrets masked: under a secret-looking key, inside nested tables
    (e.g. ``headers = {Authorization = "Bearer ..."}``), and credentials in URLs."""
    if is_secret_key(key):
        return "***"
    if isinstance(value, Mapping):
        return {k: mask_secrets(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(key, v) for v in value]
    if isinstance(value, str):
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() in ("bearer", "basic", "token"):
            return f"{scheme} ***"
        return mask_url(value)
    return value


# the file --------------------------------------------------------------------------


def config_path() -> Optional[Path]:
    """Where the configuration file is (it may not exist); ``None`` when turned off."""
    raw = os.environ.get(CONFIG_ENV)
    if raw is not None:
        return Path(raw).expanduser() if raw.strip() else None
    import platformdirs

    return Path(platformdirs.user_config_dir("chatplug")) / FILENAME


def _tomllib() -> Any:
    """``tomllib`` (Python 3.11+) or its backport ``tomli``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - version dependent
        import tomli as tomllib
    return tomllib


@dataclass(frozen=True)
class ProviderConfig:
    """One ``[providers.<id>]`` table.  ``None`` means "not set"; ``proxy = ""`` means direct."""

    name: str
    base_url: Optional[str] = None
    proxy: Optional[str] = None
    timeout: PartialTimeout = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    plugin: Optional[str] = None
    models: Tuple[str, ...] = ()
    #: keys the core does not know: the plugin's own settings (``CompletionRequest.settings``)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def virtual(self) -> bool:
        """Whether this table declares a new provider id served by another plugin."""
        return self.plugin is not None and self.plugin != self.name


@dataclass(frozen=True)
class Defaults:
    """The ``[defaults]`` table: client defaults.  ``None`` means "not set"."""

    model: Optional[str] = None
    providers: Tuple[str, ...] = ()
    retry: Optional[RetryPolicy] = None
    timeout: PartialTimeout = field(default_factory=dict)
    proxy: Optional[str] = None
    fallback: Optional[str] = None


@dataclass(frozen=True, repr=False)
class Route:
    """Where and how one provider is reached, after applying the precedence rules.

    ``sources`` says where ``base_url``, ``proxy`` and ``timeout`` came from
    (``argument``, ``env NAME``, ``file``, ``default``).
    """

    base_url: Optional[str]
    proxy: Optional[str]
    timeout: Timeout
    options: Mapping[str, Any]
    sources: Mapping[str, str]

    def __repr__(self) -> str:  # never show proxy credentials
        proxy = mask_url(self.proxy) if self.proxy else None
        return (
            f"Route(base_url={self.base_url!r}, proxy={proxy!r}, timeout={self.timeout!r}, "
            f"options={dict(self.options)!r}, sources={dict(self.sources)!r})"
        )

    @property
    def socks(self) -> bool:
        """Whether the proxy is a SOCKS proxy (needs a connector, not ``proxy=``)."""
        return is_socks(self.proxy)


class Config:
    """A parsed configuration (see :func:`load_config`); immutable once built."""

    def __init__(
        self,
        *,
        path: Optional[Path] = None,
        defaults: Optional[Defaults] = None,
        providers: Optional[Mapping[str, ProviderConfig]] = None,
    ) -> None:
        self.path = path
        self.defaults = defaults if defaults is not None else Defaults()
        self.providers: Dict[str, ProviderConfig] = dict(providers or {})
        self._settings: "weakref.WeakKeyDictionary[Provider, Dict[str, Any]]" = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Config {self.location} providers={sorted(self.providers)}>"

    @property
    def location(self) -> str:
        """The file's path, for messages (``<config>`` when built in code)."""
        return str(self.path) if self.path is not None else "<config>"

    # building ------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: Optional[Path] = None) -> "Config":
        """Validate ``data`` (the TOML document as a dict); raises :class:`ConfigError`."""
        return _Parser(path).parse(data)

    @classmethod
    def from_toml(cls, text: str, *, path: Optional[Path] = None) -> "Config":
        where = str(path) if path is not None else "<config>"
        toml = _tomllib()
        try:
            data = toml.loads(text)
        except toml.TOMLDecodeError as error:
            raise ConfigError(
                f"{where}: invalid TOML: {error}",
                hint="Fix the syntax at that line (TOML: key = value, [table]).",
            ) from None
        return cls.from_dict(data, path=path)

    @classmethod
    def from_file(cls, path: Union[str, "os.PathLike[str]"]) -> "Config":
        """Read and validate the TOML file at ``path``."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                f"{path}: the configuration file does not exist",
                hint="Create it, or give the path of an existing file.",
            ) from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the configuration file: {error}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(
                f"{path}: the configuration file is not UTF-8 (byte {error.start})"
            ) from None
        return cls.from_toml(text, path=path)

    @property
    def empty(self) -> bool:
        return not self.providers and self.defaults == Defaults()

    # binding to a registry -----------------------------------------------------------

    @property
    def changes_registry(self) -> bool:
        """Whether the file declares virtual providers or disables some."""
        return any(p.virtual or not p.enabled for p in self.providers.values())

    def _fingerprint(self) -> Tuple[Any, ...]:
        return tuple(
            (p.name, p.plugin, p.models, p.enabled, _freeze(p.extra))
            for p in sorted(self.providers.values(), key=lambda p: p.name)
            if p.virtual or not p.enabled
        )

    def registry(self, registry: Optional["Registry"] = None) -> "Registry":
        """The registry a client of this configuration uses (``registry`` when given).

        Virtual providers are added and ``enabled = false`` providers disabled; the
        process-wide default registry itself is never changed (a private one is cached
        per configuration).  Raises :class:`ConfigError` for unknown providers.
        """
        from .registry import Registry, default_registry, enabled_from_env

        if registry is None or registry is default_registry():
            if self.changes_registry:
                key = (enabled_from_env(), self._fingerprint())
                with _REGISTRIES_LOCK:
                    found = _REGISTRIES.get(key)
                    if found is None:
                        found = self.apply(Registry())
                        _REGISTRIES[key] = found
                registry = found
            else:
                registry = default_registry()
        else:
            self.apply(registry)
        self.check(registry)
        return registry

    def apply(self, registry: "Registry") -> "Registry":
        """Add this configuration's virtual providers to ``registry`` and disable providers."""
        if not self.changes_registry:
            return registry
        known = {info.name for info in registry.plugins()}
        for table in self.providers.values():
            if not table.virtual:
                continue
            assert table.plugin is not None
            where = f"{self.location}: [providers.{table.name}]"
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
        for table in self.providers.values():
            if not table.enabled:
                registry.disable(table.name)
        return registry

    def check(self, registry: "Registry") -> None:
        """Raise :class:`ConfigError` when the file names providers ``registry`` lacks."""
        if not self.providers and not self.defaults.providers:
            return
        known = {info.name for info in registry.plugins()}
        for table in self.providers.values():
            if table.name not in known:
                raise ConfigError(
                    f"{self.location}: [providers.{table.name}]: unknown provider "
                    f"{table.name!r}; installed providers: {_listing(known)}",
                    hint="Fix the name, install the plugin, or declare a new provider served "
                    'by an installed plugin with plugin = "<id>" (e.g. plugin = "openai").',
                )
        for name in self.defaults.providers:
            if name not in known:
                raise ConfigError(
                    f"{self.location}: [defaults] providers: unknown provider {name!r}; "
                    f"installed providers: {_listing(known)}"
                )

    # resolution ----------------------------------------------------------------------

    def route(
        self,
        name: str,
        *,
        base_url: Optional[str] = None,
        proxy: Optional[str] = None,
        timeout: Optional[Timeout] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> Route:
        """Resolve provider ``name``'s base URL, proxy, timeouts and default options.

        ``base_url``, ``proxy`` and ``timeout`` are the explicit arguments (``None``: not
        given; ``proxy=""``: no proxy).  Raises :class:`ConfigError` for a bad URL or proxy,
        or a SOCKS proxy without ``aiohttp-socks`` installed.
        """
        env = environment() if environ is None else environ
        table = self.providers.get(name)
        sources: Dict[str, str] = {}

        # base_url: argument > CHATPLUG_<ID>_BASE_URL > file > plugin default
        if base_url:
            sources["base_url"] = "argument"
        else:
            variable = base_url_env(name)
            base_url = env.get(variable) or None
            if base_url:
                _check_url(base_url, f"environment variable {variable}")
                sources["base_url"] = f"env {variable}"
            elif table is not None and table.base_url:
                base_url, sources["base_url"] = table.base_url, "file"
            else:
                base_url, sources["base_url"] = None, "plugin default"

        # proxy: argument > environment (unless NO_PROXY / loopback) > file > none
        chosen: Optional[str]
        if proxy is not None:
            chosen, sources["proxy"] = proxy, "argument"
            where = "the proxy argument"
        else:
            found = env_proxy(base_url, env)
            if found is not None:
                chosen, variable = found
                sources["proxy"] = f"env {variable}"
                where = f"environment variable {variable}"
            elif table is not None and table.proxy is not None:
                chosen, sources["proxy"] = table.proxy, "file"
                where = f"{self.location}: [providers.{name}] proxy"
            elif self.defaults.proxy is not None:
                chosen, sources["proxy"] = self.defaults.proxy, "file"
                where = f"{self.location}: [defaults] proxy"
            else:
                chosen, sources["proxy"] = None, "none"
                where = ""
        chosen = chosen or None  # "" means: no proxy
        if chosen is not None:
            check_proxy(chosen, where)

        # timeouts: argument > file ([providers.<id>] over [defaults]) > built-in
        if timeout is not None:
            resolved, sources["timeout"] = timeout, "argument"
        else:
            merged = dict(self.defaults.timeout)
            if table is not None:
                merged.update(table.timeout)
            resolved = Timeout(**merged) if merged else _DEFAULT_TIMEOUT
            sources["timeout"] = "file" if merged else "default"

        options = table.options if table is not None else {}
        return Route(base_url, chosen, resolved, options, sources)

    def settings(self, provider: "Provider") -> Dict[str, Any]:
        """The provider's own settings (``CompletionRequest.settings``), validated once.

        They are the provider's table's unknown keys (plus a virtual provider's
        settings).  A plugin declaring ``CHATPLUG_SETTINGS = {"key": type}`` gets them
        type-checked (a :class:`ConfigError` otherwise) and unknown keys reported as a
        :class:`ConfigWarning`; undeclared plugins get every key unchecked.
        """
        found = self._settings.get(provider)
        if found is not None:
            return found
        table = self.providers.get(provider.name)
        if table is None and not provider.settings:
            return {}
        with self._lock:
            values: Dict[str, Any] = dict(provider.settings)
            if table is not None:
                values.update(table.extra)
            found = self._validate_settings(provider, values)
            self._settings[provider] = found
        return found

    def _validate_settings(self, provider: "Provider", values: Dict[str, Any]) -> Dict[str, Any]:
        declared = getattr(provider.plugin, SETTINGS_ATTRIBUTE, None)
        where = f"{self.location}: [providers.{provider.name}]"
        if not isinstance(declared, Mapping):
            for key in values:
                close = difflib.get_close_matches(key, PROVIDER_KEYS, n=1, cutoff=0.75)
                if close:
                    _warn(f"{where}: unknown key {key!r} (did you mean {close[0]!r}?)")
            return values
        accepted: Dict[str, Any] = {}
        for key, value in values.items():
            if key not in declared:
                known = sorted(set(PROVIDER_KEYS) | set(declared))
                _warn(f"{where}: unknown key {key!r}; known keys: {', '.join(known)}")
                continue
            expected = declared[key]
            if not _is_instance(value, expected):
                raise ConfigError(
                    f"{where}: {key} must be {_type_name(expected)}, "
                    f"not {_toml_type(value)} ({_shown(key, value)})"
                )
            accepted[key] = value
        return accepted

    # display -------------------------------------------------------------------------

    def as_dict(self, *, masked: bool = True) -> Dict[str, Any]:
        """The file's settings as plain data (secrets masked)."""
        defaults: Dict[str, Any] = {}
        d = self.defaults
        if d.model is not None:
            defaults["model"] = d.model
        if d.providers:
            defaults["providers"] = list(d.providers)
        if d.retry is not None:
            defaults["retry"] = {k: getattr(d.retry, k) for k in RETRY_KEYS}
        if d.timeout:
            defaults["timeout"] = dict(d.timeout)
        if d.proxy is not None:
            defaults["proxy"] = mask_url(d.proxy) if masked else d.proxy
        if d.fallback is not None:
            defaults["fallback"] = d.fallback
        providers: Dict[str, Any] = {}
        for name in sorted(self.providers):
            table = self.providers[name]
            item: Dict[str, Any] = {}
            for key in ("plugin", "base_url", "proxy"):
                value = getattr(table, key)
                if value is not None:
                    item[key] = mask_url(value) if masked else value
            if table.models:
                item["models"] = list(table.models)
            if table.timeout:
                item["timeout"] = dict(table.timeout)
            if table.options:
                item["options"] = dict(table.options)
            if not table.enabled:
                item["enabled"] = False
            for key, value in table.extra.items():
                item[key] = mask_secrets(key, value) if masked else value
            providers[name] = item
        return {"defaults": defaults, "providers": providers}


_DEFAULT_TIMEOUT = Timeout()
_REGISTRIES: Dict[Tuple[Any, ...], "Registry"] = {}
_REGISTRIES_LOCK = threading.Lock()
_CACHE: Dict[Path, Tuple[Tuple[int, int], Config]] = {}
_CACHE_LOCK = threading.Lock()
EMPTY = Config()


def load_config(path: Union[str, "os.PathLike[str]", None] = None) -> Config:
    """The configuration at ``path`` (default: :func:`config_path`); cached until it changes.

    A missing file is an empty configuration, except at a ``path`` given explicitly (a
    :class:`ConfigError`: the caller asked for that file).
    """
    explicit = path is not None
    resolved = Path(path) if path is not None else config_path()
    if resolved is None:
        return EMPTY
    try:
        stat = resolved.stat()
    except FileNotFoundError:
        if explicit:
            return Config.from_file(resolved)  # raises the "does not exist" error
        return EMPTY
    except OSError as error:
        raise ConfigError(f"{resolved}: cannot read the configuration file: {error}") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _CACHE_LOCK:
        cached = _CACHE.get(resolved)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    config = Config.from_file(resolved)
    with _CACHE_LOCK:
        _CACHE[resolved] = (stamp, config)
    return config


ConfigInput = Union[Config, bool, str, "os.PathLike[str]", Mapping[str, Any], None]


def resolve_config(value: ConfigInput) -> Config:
    """``AsyncClient(config=...)``: ``None``/``True`` the file, ``False`` none, a path that
    file, a mapping its contents, a :class:`Config` itself."""
    if value is None or value is True:
        return load_config()
    if value is False:
        return EMPTY
    if isinstance(value, Config):
        return value
    if isinstance(value, Mapping):
        return Config.from_dict(value)
    return load_config(value)


# parsing and validation --------------------------------------------------------------


class _Parser:
    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.where = str(path) if path is not None else "<config>"

    def fail(self, key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(
            f"{self.where}: {key} must be {expected}, not {_toml_type(value)} "
            f"({_shown(key, value)})"
        )

    def unknown(self, table: str, key: str, known: Sequence[str]) -> None:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        extra = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(known)}"
        _warn(f"{self.where}: unknown key {key!r} in {table}{extra}")

    def parse(self, data: Mapping[str, Any]) -> Config:
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
        return Config(path=self.path, defaults=self.defaults(raw_defaults), providers=providers)

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
            _check_url(base_url, f"{self.where}: {label} base_url")
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
            _warn(
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
        from .registry import PROVIDER_ID

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


# URLs and proxies ----------------------------------------------------------------------


def base_url_env(provider: str) -> str:
    """``CHATPLUG_<PROVIDER>_BASE_URL`` (upper-cased, ``-`` becomes ``_``)."""
    return f"CHATPLUG_{provider.upper().replace('-', '_')}_BASE_URL"


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in HTTP_SCHEMES or not parts.hostname:
        raise ConfigError(
            f"{where}: {mask_url(url)!r} is not an http:// or https:// URL",
            hint="Give the provider's base URL, e.g. http://127.0.0.1:11434/v1.",
        )


def is_socks(proxy: Optional[str]) -> bool:
    return bool(proxy) and str(proxy).split(":", 1)[0].lower() in SOCKS_SCHEMES


def check_proxy(proxy: str, where: str, *, usable: bool = True) -> None:
    """Raise :class:`ConfigError` (credentials masked) unless ``proxy`` is a valid proxy URL
    (and, with ``usable``, a SOCKS one has ``aiohttp-socks`` to serve it)."""
    shown = mask_url(proxy)
    try:
        parts = urlsplit(proxy)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        raise ConfigError(
            f"{where}: {shown!r} is not a proxy URL; expected http://, https://, socks5:// or "
            "socks5h:// followed by host:port",
            hint="e.g. http://127.0.0.1:3128 or socks5h://user:password@127.0.0.1:1080",
        )
    if parts.scheme.lower() in SOCKS_SCHEMES:
        if port is None:
            raise ConfigError(f"{where}: the SOCKS proxy {shown!r} needs a port (host:port)")
        if usable:
            require_socks(proxy)


def require_socks(proxy: str) -> None:
    """Raise :class:`ConfigError` naming the ``chatplug[socks]`` extra if it is missing."""
    try:
        import aiohttp_socks  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"the proxy {mask_url(proxy)!r} is a SOCKS proxy, which needs the optional "
            "dependency aiohttp-socks",
            hint="Install it with: pip install 'chatplug[socks]'",
        ) from None


def socks_connector(proxy: str, **kwargs: Any) -> "aiohttp.BaseConnector":
    """An aiohttp connector tunnelling every connection through the SOCKS5 ``proxy``.

    ``socks5h://`` resolves host names on the proxy; ``socks5://`` resolves them locally.
    """
    require_socks(proxy)
    from aiohttp_socks import ProxyConnector, ProxyType

    parts = urlsplit(proxy)
    return ProxyConnector(  # type: ignore[no-any-return]
        proxy_type=ProxyType.SOCKS5,
        host=parts.hostname or "",
        port=parts.port or 1080,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        rdns=parts.scheme.lower() == "socks5h",
        **kwargs,
    )


def environment() -> Dict[str, str]:
    """The variables that matter here (proxies, ``CHATPLUG_*``), read once: a client takes
    this snapshot when it is created."""
    return {
        key: value
        for key, value in os.environ.items()
        if key.startswith("CHATPLUG_") or key.upper().endswith("_PROXY")
    }


def _env(env: Mapping[str, str], name: str) -> Optional[str]:
    """A proxy variable, lower-case spelling first (as curl does); empty means unset."""
    for variable in (name.lower(), name.upper()):
        value = env.get(variable)
        if value and value.strip():
            return variable
    return None


def env_proxy(base_url: Optional[str], env: Mapping[str, str]) -> Optional[Tuple[str, str]]:
    """``(proxy, variable)`` from the environment for a request to ``base_url``, or ``None``.

    ``CHATPLUG_PROXY`` first, then ``HTTPS_PROXY`` (https URLs, and plugin defaults, whose
    URL chatplug does not know) or ``HTTP_PROXY`` (http URLs), then ``ALL_PROXY``.  Hosts
    matched by ``NO_PROXY`` and loopback hosts (127.0.0.0/8, ::1, localhost) go direct.
    """
    if not (
        env.get(PROXY_ENV, "").strip()
        or _env(env, "HTTPS_PROXY")
        or _env(env, "HTTP_PROXY")
        or _env(env, "ALL_PROXY")
    ):
        return None  # the common case, without parsing the URL
    host: Optional[str] = None
    scheme = "https"
    if base_url:
        parts = urlsplit(base_url)
        host, scheme = parts.hostname, parts.scheme.lower()
    if host is not None and (is_loopback(host) or bypassed(host, env)):
        return None
    if host is None and bypassed("", env):  # unknown URL: only NO_PROXY=* exempts it
        return None
    if env.get(PROXY_ENV, "").strip():
        return env[PROXY_ENV].strip(), PROXY_ENV
    names = ("HTTPS_PROXY", "ALL_PROXY") if scheme == "https" else ("HTTP_PROXY", "ALL_PROXY")
    for name in names:
        variable = _env(env, name)
        if variable is not None:
            return env[variable].strip(), variable
    return None


@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bypassed(host: str, env: Mapping[str, str]) -> bool:
    """Whether ``NO_PROXY`` exempts ``host``: ``*``, exact names, domain suffixes
    (``example.com`` and ``.example.com`` both match ``api.example.com``), IPs and CIDRs."""
    variable = _env(env, "NO_PROXY")
    if variable is None:
        return False
    host = host.strip("[]").rstrip(".").lower()
    try:
        address: Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]] = (
            ipaddress.ip_address(host)
        )
    except ValueError:
        address = None
    for entry in env[variable].split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        if entry.count(":") == 1:  # host:port -> host
            entry = entry.split(":", 1)[0]
        entry = entry.lstrip("*").lstrip(".").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


# helpers -------------------------------------------------------------------------------


def _warn(message: str) -> None:
    warnings.warn(message, ConfigWarning, stacklevel=4)


def _listing(names: Any) -> str:
    return ", ".join(sorted(names)) or "none installed"


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def _shown(key: str, value: Any) -> str:
    if is_secret_key(key.split()[-1]) and isinstance(value, str):
        return "'***'"
    if isinstance(value, str):
        return repr(mask_url(value))
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "an array",
    dict: "a table",
}


def _type_name(expected: Any) -> str:
    if isinstance(expected, tuple):
        return " or ".join(_type_name(item) for item in expected)
    return _TYPE_NAMES.get(expected, getattr(expected, "__name__", str(expected)))


def _is_instance(value: Any, expected: Any) -> bool:
    types = expected if isinstance(expected, tuple) else (expected,)
    if not all(isinstance(t, type) for t in types):
        return True  # not a type declaration: accept anything
    if isinstance(value, bool) and bool not in types:
        return False
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return True
    if dict in types and isinstance(value, Mapping):
        return True
    return isinstance(value, types)


# the ``chatplug config`` command ---------------------------------------------------------


def _effective(config: Config, env: Mapping[str, str]) -> Dict[str, Any]:
    """The merged settings (file + environment) with their sources, secrets masked."""
    names = set(config.providers)
    pattern = re.compile(r"^CHATPLUG_([A-Z0-9_]+)_BASE_URL$")
    for variable in env:
        match = pattern.match(variable)
        if match and env[variable]:
            names.add(match.group(1).lower().replace("_", "-"))
    defaults = config.as_dict()["defaults"]
    d = config.defaults
    timeout = Timeout(**d.timeout) if d.timeout else _DEFAULT_TIMEOUT
    defaults["timeout"] = _timeout_dict(timeout)
    retry = d.retry or RetryPolicy()
    defaults["retry"] = {key: getattr(retry, key) for key in RETRY_KEYS}
    defaults.setdefault("fallback", "given")
    providers: Dict[str, Any] = {}
    listed = config.as_dict()["providers"]
    for name in sorted(names):
        try:
            route = config.route(name, environ=env)
        except ConfigError as error:
            providers[name] = {"error": mask_url(error.message)}
            continue
        item = dict(listed.get(name, {}))
        item["base_url"] = route.base_url
        item["proxy"] = mask_url(route.proxy) if route.proxy else None
        item["timeout"] = _timeout_dict(route.timeout)
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
        "environment": {name: mask_url(env[name]) for name in variables if env.get(name)},
        "defaults": defaults,
        "providers": providers,
    }


def _timeout_dict(timeout: Timeout) -> Dict[str, Any]:
    """Phases in seconds; ``false`` for a disabled one (as the file spells it)."""
    return {phase: getattr(timeout, phase) or False for phase in TIMEOUT_PHASES}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{k} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    return json.dumps(str(value))


def render(effective: Mapping[str, Any]) -> str:
    """``chatplug config show``'s text: TOML, with each value's source as a comment."""
    lines = [f"# file: {effective['file']}"]
    if not effective.get("exists", True):
        lines.append("# (the file does not exist: built-in defaults and the environment only)")
    for name, value in effective.get("environment", {}).items():
        lines.append(f"# env {name} = {value}")
    lines += ["", "[defaults]"]
    for key, value in effective["defaults"].items():
        lines.append(f"{key} = {_toml_value(value)}")
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
            lines.append(f"{key} = {_toml_value(value)}{comment}")
    return "\n".join(lines) + "\n"


def _build_command() -> Any:
    import click

    def guarded(function: Any) -> Any:
        from .errors import ChatplugError

        try:
            return function()
        except ChatplugError as error:
            try:  # the CLI's own error format, when the CLI is there
                from .cli import report_error
            except ImportError:  # pragma: no cover - the CLI ships with the core
                click.echo(f"Error: {error}", err=True)
                if error.hint:
                    click.echo(f"Hint: {error.hint}", err=True)
                code = error.exit_code
            else:
                code = report_error(error)
            raise SystemExit(code) from None

    @click.group(name="config")
    def config_group() -> None:
        """Where the configuration file is, and what it sets."""

    @config_group.command(name="path")
    def path_command() -> None:
        """Print the configuration file's path ($CHATPLUG_CONFIG or the user config dir)."""
        path = config_path()
        if path is None:
            click.echo(f"(none: {CONFIG_ENV} is set to an empty value)")
            return
        click.echo(str(path))
        if not path.exists():
            click.echo("(the file does not exist yet)", err=True)

    @config_group.command(name="show")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
    def show_command(as_json: bool) -> None:
        """Print the merged settings (file + environment), secrets masked."""

        def show() -> None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConfigWarning)
                effective = _effective(load_config(), os.environ)
            path = config_path()
            if path is not None and not path.exists():  # say where the file would be
                effective["file"], effective["exists"] = str(path), False
            for warning in caught:
                click.echo(f"warning: {warning.message}", err=True)
            if as_json:
                click.echo(json.dumps(effective, indent=2, ensure_ascii=False))
            else:
                click.echo(render(effective), nl=False)

        guarded(show)

    return config_group


_COMMAND: Any = None


def __getattr__(name: str) -> Any:
    """``config_command`` (the click group) is built on first access: click stays unloaded."""
    global _COMMAND
    if name == "config_command":
        if _COMMAND is None:
            _COMMAND = _build_command()
        return _COMMAND
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CONFIG_ENV",
    "Config",
    "ConfigError",
    "ConfigWarning",
    "Defaults",
    "ProviderConfig",
    "Route",
    "base_url_env",
    "config_path",
    "env_proxy",
    "load_config",
    "mask_secrets",
    "mask_url",
    "resolve_config",
    "socks_connector",
]
