"""Limits on what is read: the configuration file's size and how deep it nests.

A configuration file is at most :data:`MAX_BYTES` bytes (``CHATPLUG_CONFIG=/dev/zero`` is a
configuration error, not a process filling its memory), and its tables and arrays nest at
most :data:`MAX_DEPTH` levels (a deeper file is a configuration error naming the line, not
a ``RecursionError`` from the TOML parser).
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Tuple

from ..errors import ConfigError

#: the largest configuration file read (bytes): a real one is a few kilobytes
MAX_BYTES = 1024 * 1024
#: the deepest nesting of tables and arrays accepted
MAX_DEPTH = 32


def read_text(path: Any) -> str:
    """The text of the file at ``path`` (a :class:`ConfigError` when it is missing,
    unreadable, larger than :data:`MAX_BYTES` or not UTF-8)."""
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: the configuration file does not exist",
            hint="Create it, or give the path of an existing file.",
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration file: {error}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            f"{path}: the configuration file is larger than {MAX_BYTES // 1024} KiB",
            hint="Point CHATPLUG_CONFIG at the chatplug.toml file itself.",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: the configuration file is not UTF-8 (byte {error.start})"
        ) from None


# strings and comments (skipped), brackets (counted)
_SCAN = re.compile(r"\"\"\"|'''|\"|'|#|[\[\]{}]")


def too_deep_at(text: str) -> Optional[int]:
    """The line where brackets (arrays, inline tables) open more than :data:`MAX_DEPTH`
    levels deep, skipping strings and comments; ``None`` when they do not (a malformed
    document is left to the TOML parser)."""
    depth = position = 0
    while True:
        match = _SCAN.search(text, position)
        if match is None:
            return None
        token, position = match.group(), match.end()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, match.start()) + 1
        elif token in "]}":
            depth = max(0, depth - 1)
        else:
            position = _skip(text, token, position)
            if position < 0:
                return None


def _skip(text: str, token: str, position: int) -> int:
    """The position after the string or comment opened by ``token`` (-1: unterminated)."""
    if token == "#":
        end = text.find("\n", position)
        return len(text) if end < 0 else end
    if token == "'":
        end = text.find("'", position)
        return -1 if end < 0 or "\n" in text[position:end] else end + 1
    if token == "'''":
        end = text.find(token, position)
    else:  # basic strings: a quote escaped by an odd number of backslashes continues
        while True:
            end = text.find(token, position)
            if end < 0 or (token == '"' and "\n" in text[position:end]):
                return -1
            if (len(text[position:end]) - len(text[position:end].rstrip("\\"))) % 2 == 0:
                break
            position = end + 1
    if end < 0:
        return -1
    end += len(token)
    if len(token) == 3:  # up to two quotes of the content may end a multi-line string
        for _ in range(2):
            if text.startswith(token[0], end):
                end += 1
    return end


def too_deep_key(data: Mapping[str, Any]) -> Optional[str]:
    """The dotted key of a value nested deeper than :data:`MAX_DEPTH` (dotted keys and table
    headers nest without brackets), or ``None``."""
    stack: List[Tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return path
        if isinstance(value, Mapping):
            stack.extend(
                (f"{path}.{key}" if path else key, v, depth + 1) for key, v in value.items()
            )
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in enumerate(value))
    return None
