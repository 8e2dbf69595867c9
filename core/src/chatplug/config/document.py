""":class:`Config`: one validated configuration, and the questions a client asks it (each
answered in its own module, imported when first asked: reading and parsing, routes,
registry binding and settings, display)."""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Union

from . import binding

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import Provider, Registry
    from ..types import Timeout
    from .model import Defaults, ProviderConfig, Route
    from .server import ServerConfig


class Config:
    """A parsed configuration (see :func:`~chatplug.config.load_config`); immutable once built."""

    def __init__(
        self,
        *,
        path: Optional[Path] = None,
        defaults: Optional["Defaults"] = None,
        providers: Optional[Mapping[str, "ProviderConfig"]] = None,
        server: Optional["ServerConfig"] = None,
    ) -> None:
        self.path = path
        self._defaults = defaults
        self._server = server
        self.providers: Dict[str, ProviderConfig] = dict(providers or {})
        self._settings: "weakref.WeakKeyDictionary[Provider, Dict[str, Any]]" = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Config {self.location} providers={sorted(self.providers)}>"

    @property
    def defaults(self) -> "Defaults":
        """The ``[defaults]`` table (nothing set when the file has none).  Built on first use:
        the configuration of no file never loads the tables' dataclasses (start-up time)."""
        if self._defaults is None:
            from .model import Defaults

            self._defaults = Defaults()
        return self._defaults

    @property
    def server(self) -> "ServerConfig":
        """The ``[server]`` table (``chatplug serve``'s Redis URL and named keys)."""
        if self._server is None:
            from .server import ServerConfig

            self._server = ServerConfig()
        return self._server

    @property
    def location(self) -> str:
        """The file's path, for messages (``<config>`` when built in code)."""
        return str(self.path) if self.path is not None else "<config>"

    # building ------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: Optional[Path] = None) -> "Config":
        """Validate ``data`` (the TOML document as a dict); raises :class:`ConfigError`."""
        from .parse import parse_document

        where = str(path) if path is not None else "<config>"
        defaults, providers = parse_document(data, where)
        server = None
        if "server" in data:
            from .server import parse_server

            server = parse_server(data["server"], where)
        return cls(path=path, defaults=defaults, providers=providers, server=server)

    @classmethod
    def from_toml(cls, text: str, *, path: Optional[Path] = None) -> "Config":
        """Parse and validate the TOML ``text`` (read from ``path``, for messages)."""
        from .parse import load_toml

        where = str(path) if path is not None else "<config>"
        return cls.from_dict(load_toml(text, where), path=path)

    @classmethod
    def from_file(cls, path: Union[str, "os.PathLike[str]"]) -> "Config":
        """Read and validate the TOML file at ``path``."""
        from .limits import read_text

        path = Path(path)
        return cls.from_toml(read_text(path), path=path)

    @property
    def empty(self) -> bool:
        """Whether this configuration sets nothing."""
        if self.providers or (self._server is not None and self._server.keys):
            return False
        if self._server is not None and self._server.redis_url:
            return False
        if self._defaults is None:
            return True
        from .model import Defaults

        return self._defaults == Defaults()

    # binding to a registry -----------------------------------------------------------

    @property
    def changes_registry(self) -> bool:
        """Whether the file declares virtual providers or disables some."""
        return binding.changes_registry(self)

    def registry(self, registry: Optional["Registry"] = None) -> "Registry":
        """The registry a client of this configuration uses (``registry`` when given).

        Virtual providers are added and ``enabled = false`` providers disabled; the
        process-wide default registry itself is never changed (a private one is cached
        per configuration).  Raises :class:`ConfigError` for unknown providers.
        """
        return binding.bind_registry(self, registry)

    def apply(self, registry: "Registry") -> "Registry":
        """Add this configuration's virtual providers to ``registry`` and disable providers."""
        return binding.apply(self, registry)

    def check(self, registry: "Registry") -> None:
        """Raise :class:`ConfigError` when the file names providers ``registry`` lacks."""
        binding.check(self, registry)

    # resolution ----------------------------------------------------------------------

    def route(
        self,
        name: str,
        *,
        base_url: Optional[str] = None,
        proxy: Optional[str] = None,
        timeout: Optional["Timeout"] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> "Route":
        """Resolve provider ``name``'s base URL, proxy, timeouts and default options.

        ``base_url``, ``proxy`` and ``timeout`` are the explicit arguments (``None``: not
        given; ``proxy=""``: no proxy).  Raises :class:`ConfigError` for a bad URL or proxy,
        or a SOCKS proxy without ``aiohttp-socks`` installed.
        """
        from .routes import resolve_route

        return resolve_route(
            self, name, base_url=base_url, proxy=proxy, timeout=timeout, environ=environ
        )

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
            found = binding.validate_settings(self.location, provider, values)
            self._settings[provider] = found
        return found

    # display -------------------------------------------------------------------------

    def as_dict(self, *, masked: bool = True) -> Dict[str, Any]:
        """The file's settings as plain data (secrets masked)."""
        from .display import as_dict

        return as_dict(self, masked=masked)
