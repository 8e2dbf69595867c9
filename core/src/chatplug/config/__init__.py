"""Configuration: ``chatplug.toml``, environment variables and their precedence.

The file is found at ``$CHATPLUG_CONFIG`` (an empty value turns the file off), else at
``platformdirs.user_config_dir("chatplug")/chatplug.toml``.  It is read lazily: when a
client is created or a command needs it, never at ``import chatplug``.

Precedence, highest first: an explicit argument (``AsyncClient(proxy=...)``, ``stream(
base_url=...)``) > the environment (``CHATPLUG_PROXY``, ``CHATPLUG_<PROVIDER>_BASE_URL``,
``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` with ``NO_PROXY``) > the file (a
``[providers.<id>]`` table, then ``[defaults]``) > the plugin's own default.

The modules: :mod:`~chatplug.config.model` (the tables as dataclasses),
:mod:`~chatplug.config.parse` (reading and validating the file),
:mod:`~chatplug.config.load` (where the file is, the cache), :mod:`~chatplug.config.routes`
(per-request resolution), :mod:`~chatplug.config.binding` (the registry and the plugins'
own settings), :mod:`~chatplug.config.display` (``chatplug config show``),
:mod:`~chatplug.config.limits` (size and depth limits) and :mod:`~chatplug.config.document`
(:class:`Config`).  Proxies and loopback hosts are
:mod:`chatplug.net`'s; masking secrets is :mod:`chatplug.masking`'s.

See ``docs/configuration.md`` for every key.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, Tuple

from ..errors import ConfigError
from .document import Config
from .load import (
    CONFIG_ENV,
    EMPTY,
    FILENAME,
    ConfigInput,
    config_path,
    load_config,
    resolve_config,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..masking import is_secret_key
    from ..masking import mask_text as mask_credentials
    from ..masking import mask_text as mask_url
    from ..net import (
        HTTP_SCHEMES,
        PROXY_ENV,
        PROXY_SCHEMES,
        SOCKS_SCHEMES,
        bypassed,
        check_proxy,
        env_proxy,
        environment,
        is_loopback,
        is_socks,
        require_socks,
        socks_connector,
    )
    from ..types import RetryPolicy, Timeout
    from .binding import SETTINGS_ATTRIBUTE
    from .display import render
    from .model import (
        DEFAULTS_KEYS,
        FALLBACK_ORDERS,
        PROVIDER_KEYS,
        RETRY_KEYS,
        TIMEOUT_PHASES,
        TOP_KEYS,
        ConfigWarning,
        Defaults,
        PartialTimeout,
        ProviderConfig,
        Route,
    )
    from .routes import base_url_env

#: names found here but loaded from their module on first use (``name: (module, attribute)``):
#: a command that finds no configuration file loads none of them (start-up time)
_LAZY: Dict[str, Tuple[str, str]] = {
    **{
        name: ("chatplug.config.model", name)
        for name in (
            "DEFAULTS_KEYS",
            "FALLBACK_ORDERS",
            "PROVIDER_KEYS",
            "RETRY_KEYS",
            "TIMEOUT_PHASES",
            "TOP_KEYS",
            "ConfigWarning",
            "Defaults",
            "PartialTimeout",
            "ProviderConfig",
            "Route",
        )
    },
    "RetryPolicy": ("chatplug.types", "RetryPolicy"),
    "Timeout": ("chatplug.types", "Timeout"),
    **{
        name: ("chatplug.net", name)
        for name in (
            "HTTP_SCHEMES",
            "PROXY_ENV",
            "PROXY_SCHEMES",
            "SOCKS_SCHEMES",
            "bypassed",
            "check_proxy",
            "env_proxy",
            "environment",
            "is_loopback",
            "is_socks",
            "require_socks",
            "socks_connector",
        )
    },
    "is_secret_key": ("chatplug.masking", "is_secret_key"),
    #: ``user:password@`` in any URL of a text replaced by ``***@`` (safe to print or log)
    "mask_url": ("chatplug.masking", "mask_text"),
    "mask_credentials": ("chatplug.masking", "mask_text"),
    "SETTINGS_ATTRIBUTE": ("chatplug.config.binding", "SETTINGS_ATTRIBUTE"),
    "base_url_env": ("chatplug.config.routes", "base_url_env"),
    "render": ("chatplug.config.display", "render"),
    #: the ``chatplug config`` click group lives in the command line
    "config_command": ("chatplug.cli.config", "config_command"),
}


def mask_secrets(key: str, value: Any) -> Any:
    """``value`` with secrets masked: under a secret-looking key, inside nested tables
    (e.g. ``headers = {Authorization = "Bearer ..."}``), and credentials in URLs."""
    from ..masking import mask

    return mask(value, key)


def __getattr__(name: str) -> Any:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(found[0]), found[1])
    globals()[name] = value
    return value


__all__ = [
    "CONFIG_ENV",
    "DEFAULTS_KEYS",
    "EMPTY",
    "FALLBACK_ORDERS",
    "FILENAME",
    "HTTP_SCHEMES",
    "PROVIDER_KEYS",
    "PROXY_ENV",
    "PROXY_SCHEMES",
    "RETRY_KEYS",
    "SETTINGS_ATTRIBUTE",
    "SOCKS_SCHEMES",
    "TIMEOUT_PHASES",
    "TOP_KEYS",
    "Config",
    "ConfigError",
    "ConfigInput",
    "ConfigWarning",
    "Defaults",
    "PartialTimeout",
    "ProviderConfig",
    "RetryPolicy",
    "Route",
    "Timeout",
    "base_url_env",
    "bypassed",
    "check_proxy",
    "config_path",
    "env_proxy",
    "environment",
    "is_loopback",
    "is_secret_key",
    "is_socks",
    "load_config",
    "mask_credentials",
    "mask_secrets",
    "mask_url",
    "render",
    "require_socks",
    "resolve_config",
    "socks_connector",
]
