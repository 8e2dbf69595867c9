"""The ``[server]`` table of ``chatplug.toml``: what ``chatplug serve`` shares and who may use it.

```toml
[server]
redis_url = "redis://redis:6379/0"   # shared state (CHATPLUG_REDIS_URL, --redis beat it)

[[server.keys]]
name = "team-a"          # in logs, metrics and Redis key names, never the key itself
key_env = "TEAM_A_KEY"   # the environment variable holding the key (or key = "...": a warning)
rpm = 60                 # optional: requests per minute
tpm = 200000             # optional: tokens per minute
```

Parsing checks the shape of every entry (a :class:`~chatplug.ConfigError` naming the file,
the entry and the setting); the keys themselves are read from the environment only when the
server starts (:meth:`ServerKey.resolve`).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from ..errors import ConfigError
from .model import ConfigWarning
from .values import shown, toml_type

SERVER_KEYS = ("redis_url", "keys")
REDIS_SCHEMES = ("redis", "rediss", "unix")
KEY_SETTINGS = ("name", "key_env", "key", "rpm", "tpm")
#: a key's name: it appears in logs, metrics and Redis key names
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ServerKey:
    """One ``[[server.keys]]`` entry: the key comes from ``key_env`` (or, with a warning
    when parsed, the literal ``key``; never shown by ``repr``)."""

    name: str
    key_env: Optional[str] = None
    key: Optional[str] = field(default=None, repr=False)
    rpm: Optional[int] = None
    tpm: Optional[int] = None
    where: str = field(default="chatplug.toml: [[server.keys]]", repr=False, compare=False)

    def resolve(self, environ: Mapping[str, str]) -> str:
        """The key itself (``ConfigError`` naming the variable when it is not set)."""
        if self.key is not None:
            return self.key
        assert self.key_env is not None
        value = environ.get(self.key_env, "")
        if not value:
            raise ConfigError(
                f"{self.where}: the environment variable {self.key_env} is not set",
                hint=f"export {self.key_env}=<the key> before starting the server",
            )
        return value


@dataclass(frozen=True)
class ServerConfig:
    """The ``[server]`` table (nothing set when the file has none)."""

    redis_url: Optional[str] = None
    keys: Tuple[ServerKey, ...] = ()


def parse_server(table: Any, where: str) -> ServerConfig:
    """The ``[server]`` table of the file ``where`` (validated)."""
    if table is None:
        return ServerConfig()
    if not isinstance(table, Mapping):
        raise _fail(where, "[server]", "a table", table)
    for key in table:
        if key not in SERVER_KEYS:
            warnings.warn(
                f"{where}: unknown key {key!r} in [server]; known keys: {', '.join(SERVER_KEYS)}",
                ConfigWarning,
                stacklevel=5,
            )
    redis_url = table.get("redis_url")
    if redis_url is not None:
        if not isinstance(redis_url, str) or not redis_url.strip():
            raise _fail(where, "[server] redis_url", "a redis:// URL", redis_url)
        check_redis_url(redis_url, f"{where}: [server] redis_url")
    entries = table.get("keys", [])
    if not isinstance(entries, list):
        raise _fail(where, "[server] keys", "an array of [[server.keys]] tables", entries)
    keys = parse_keys(entries, where)
    return ServerConfig(redis_url.strip() if redis_url else None, keys)


def check_redis_url(url: str, where: str) -> str:
    """``url`` when it is a Redis URL (``redis://``, ``rediss://``, ``unix://``), else a
    :class:`ConfigError` (the URL shown without its credentials)."""
    scheme = urlsplit(url.strip()).scheme.lower()
    if scheme not in REDIS_SCHEMES:
        raise ConfigError(
            f"{where}: {shown('url', url)} is not a Redis URL",
            hint="redis://[[user]:password@]host[:port][/db], rediss:// (TLS) or unix:///path",
        )
    return url.strip()


def parse_keys(entries: Sequence[Any], where: str) -> Tuple[ServerKey, ...]:
    """``[[server.keys]]`` entries, validated; names must be unique."""
    keys = tuple(
        parse_key(entry, f"{where}: [[server.keys]] #{i + 1}") for i, entry in enumerate(entries)
    )
    names = set()
    for key in keys:
        if key.name in names:
            raise ConfigError(f"{where}: [[server.keys]]: the name {key.name!r} is used twice")
        names.add(key.name)
    return keys


def parse_key(table: Any, where: str) -> ServerKey:
    """One ``[[server.keys]]`` entry (``where``: the file and the entry's position)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table, not {toml_type(table)}")
    unknown = sorted(set(table) - set(KEY_SETTINGS))
    if unknown:  # an error, not a warning: a misspelt limit would silently be no limit
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(KEY_SETTINGS)}"
        )
    name = table.get("name")
    if not isinstance(name, str) or not KEY_NAME.match(name):
        raise ConfigError(
            f"{where}: 'name' must be 1-64 letters, digits, '_', '.' or '-' (it appears in "
            "logs and metrics)"
        )
    where = f"{where} ({name})"
    if ("key_env" in table) == ("key" in table):
        raise ConfigError(f"{where}: give exactly one of 'key_env' and 'key'")
    key_env = table.get("key_env")
    if key_env is not None and (not isinstance(key_env, str) or not key_env):
        raise ConfigError(f"{where}: 'key_env' must name an environment variable")
    key = table.get("key")
    if key is not None:
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where}: 'key' must be a non-empty string")
        warnings.warn(
            f"{where}: the key is written in the file; prefer 'key_env' (an environment "
            "variable name)",
            ConfigWarning,
            stacklevel=5,
        )
    return ServerKey(
        name, key_env, key, _limit(table, "rpm", where), _limit(table, "tpm", where), where
    )


def _limit(table: Mapping[str, Any], setting: str, where: str) -> Optional[int]:
    value = table.get(setting)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{where}: '{setting}' must be a positive integer, not {toml_type(value)} "
            f"({shown(setting, value)})"
        )
    return value


def _fail(where: str, key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(
        f"{where}: {key} must be {expected}, not {toml_type(value)} ({shown(key, value)})"
    )
