"""Values described in messages: TOML type names, declared types, values shown masked."""

from __future__ import annotations

from typing import Any, Mapping

from ..masking import is_secret_key, mask_text

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "an array",
    dict: "a table",
}


def toml_type(value: Any) -> str:
    """What ``value`` is, in TOML's words (``a string``, ``a table``...)."""
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


def shown(key: str, value: Any) -> str:
    """``value`` of ``key`` for a message: masked when secret, cut when long."""
    if is_secret_key(key.split()[-1]) and isinstance(value, str):
        return "'***'"
    if isinstance(value, str):
        return repr(mask_text(value))
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def type_name(expected: Any) -> str:
    """A declared type (or tuple of types) in words: ``a string or an integer``."""
    if isinstance(expected, tuple):
        return " or ".join(type_name(item) for item in expected)
    return _TYPE_NAMES.get(expected, getattr(expected, "__name__", str(expected)))


def is_instance(value: Any, expected: Any) -> bool:
    """Whether ``value`` fits the declared type(s) (integers fit ``float``, booleans fit
    only ``bool``; a declaration that is not a type accepts anything)."""
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
