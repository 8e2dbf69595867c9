"""The configuration's data: the schema's keys, the ``[defaults]`` and ``[providers.<id>]``
tables as frozen dataclasses, and :class:`Route`, where one provider is reached."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple

from ..types import RetryPolicy, Timeout

TIMEOUT_PHASES = ("connect", "first_byte", "idle", "total")
RETRY_KEYS = ("attempts", "backoff", "max_backoff", "max_time", "jitter")
FALLBACK_ORDERS = ("given", "healthiest")

DEFAULTS_KEYS = ("model", "providers", "retries", "retry", "timeout", "proxy", "fallback")
PROVIDER_KEYS = ("base_url", "proxy", "timeout", "options", "enabled", "plugin", "models")
TOP_KEYS = ("defaults", "providers", "server")

PartialTimeout = Mapping[str, Optional[float]]

#: the built-in timeouts (when neither an argument nor the file sets any)
DEFAULT_TIMEOUT = Timeout()


class ConfigWarning(UserWarning):
    """A configuration problem that does not stop chatplug (e.g. an unknown key)."""


def warn(message: str) -> None:
    """Issue a :class:`ConfigWarning`."""
    warnings.warn(message, ConfigWarning, stacklevel=4)


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

    def __repr__(self) -> str:  # never show credentials or secret options
        from ..masking import mask, mask_text

        proxy = mask_text(self.proxy) if self.proxy else None
        return (
            f"Route(base_url={self.base_url!r}, proxy={proxy!r}, timeout={self.timeout!r}, "
            f"options={mask(dict(self.options))!r}, sources={dict(self.sources)!r})"
        )

    @property
    def socks(self) -> bool:
        """Whether the proxy is a SOCKS proxy (needs a connector, not ``proxy=``)."""
        if not self.proxy:  # the usual route: no import on every request
            return False
        from ..net import is_socks

        return is_socks(self.proxy)
