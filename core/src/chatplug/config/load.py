"""Where the configuration file is, and loading it (cached until the file changes).

The file is ``$CHATPLUG_CONFIG`` (an empty value turns the file off), else
``chatplug.toml`` in the user's configuration directory (``platformdirs.user_config_dir``:
``$XDG_CONFIG_HOME/chatplug`` or ``~/.config/chatplug`` on Linux).  It is read lazily,
when a client is created or a command needs it, never at ``import chatplug``.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from ..errors import ConfigError
from .document import Config

CONFIG_ENV = "CHATPLUG_CONFIG"
FILENAME = "chatplug.toml"
APP_NAME = "chatplug"

_CACHE: Dict[Path, Tuple[Tuple[int, int], Config]] = {}
_CACHE_LOCK = threading.Lock()
#: the configuration of no file
EMPTY = Config()


def config_path() -> Optional[Path]:
    """Where the configuration file is (it may not exist); ``None`` when turned off."""
    raw = os.environ.get(CONFIG_ENV)
    if raw is not None:
        return Path(raw).expanduser() if raw.strip() else None
    return Path(user_config_dir()) / FILENAME


def user_config_dir() -> str:
    """``platformdirs.user_config_dir("chatplug")``; on Linux and the BSDs computed here by
    the XDG rule every platformdirs version follows (platformdirs is slow to import)."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    home = os.environ.get("HOME", "")
    unix = sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))
    if unix and not os.environ.get("ANDROID_DATA"):
        if xdg is not None and os.path.isabs(xdg) and xdg == xdg.strip():
            return os.path.join(xdg, APP_NAME)
        if xdg is None and os.path.isabs(home):
            return os.path.join(home, ".config", APP_NAME)
    import platformdirs

    return platformdirs.user_config_dir(APP_NAME)  # type: ignore[no-any-return]


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
