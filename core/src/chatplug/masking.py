"""Secrets masked for display: one function, :func:`mask`, for everything chatplug shows.

``chatplug config show``, the command line's error messages and the client's error
messages pass what they display through :func:`mask` (:func:`mask_text` for plain text):

- a value under a key whose name suggests a secret becomes ``"***"``: the name contains
  ``key``, ``token``, ``secret``, ``passw``, ``passphrase``, ``pwd``, ``auth`` (so
  ``authorization``), ``credential`` or ``cookie``, in any case and anywhere in the name
  (``api_key``, ``X-Api-Key``, ``access_token``, ``client_secret``).  Not secrets:
  counts of tokens (``max_tokens``, ``max_completion_tokens``: ``token`` followed by a
  letter), ``tokenizer``, and ``*_env`` keys, which name a variable rather than hold its value
  (``api_key_env``);
- tables and lists are masked item by item, each item under its own key;
- a value ``Bearer x``, ``Basic x`` or ``Token x`` (a header's) keeps only its scheme;
- in any text (:func:`mask_text`): the ``user:password@`` of every URL becomes ``***@``,
  wherever the URL sits in the text and whatever the password holds (``/``, ``@``, ``:``,
  ``'``, percent escapes); so do the values of URL query parameters with a secret name
  (``?api_key=...``) and ``Bearer`` credentials.

When it cannot tell, masking hides too much rather than too little: a URL whose path holds
an ``@`` after a ``host:port`` (``http://h:8080/p/@x``) is shown as ``http://***@x``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

_SECRET_NAME = re.compile(
    r"key|token(?![a-z])|secret|passw|passphrase|pwd|auth|credential|cookie", re.IGNORECASE
)
#: a URL: a scheme, then everything up to white space or a character never part of a URL
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^\s\"<>]*)")
_QUERY_SECRET = re.compile(r"([?&;]([^=&#\s]*)=)([^&#\s\"<>]*)")
_BEARER = re.compile(r"\b([Bb]earer)\s+[A-Za-z0-9._~+/=-]+")
_SCHEMES = ("bearer", "basic", "token")


def is_secret_key(key: str) -> bool:
    """Whether a setting named ``key`` holds a secret (``api_key`` yes, ``max_tokens`` and
    ``api_key_env`` no)."""
    return bool(_SECRET_NAME.search(key)) and not key.lower().endswith("_env")


def mask(value: Any, key: str = "") -> Any:
    """``value`` safe to display: secrets under secret-looking keys (``key``, then the keys
    of nested tables) and credentials in text masked; other values unchanged."""
    if key and is_secret_key(key):
        return MASK
    if isinstance(value, Mapping):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(item) for item in value]
    if isinstance(value, str):
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() in _SCHEMES:  # a header value: Bearer x, Basic x, Token x
            return f"{scheme} {MASK}"
        return mask_text(value)
    return value


def mask_text(text: str) -> str:
    """``text`` with credentials hidden: the user info of URLs, secret query parameters and
    ``Bearer`` tokens, wherever they are in the text."""
    if "://" in text:
        text = _URL.sub(_mask_url_match, text)
    if "earer" in text:
        text = _BEARER.sub(rf"\1 {MASK}", text)
    return text


def _mask_url_match(match: "re.Match[str]") -> str:
    scheme, rest = match.group(1), match.group(2)
    at = rest.rfind("@")
    if at > 0:
        userinfo = rest[:at]
        # user:password@ (the password may hold '/', '@', ':'), or a plain user@ in the
        # authority; not an '@' in the path of a URL without credentials (http://h/@me)
        if ":" in userinfo or not any(c in userinfo for c in "/?#"):
            rest = f"{MASK}@{rest[at + 1 :]}"
    if "=" in rest:
        rest = _QUERY_SECRET.sub(_mask_query_match, rest)
    return scheme + rest


def _mask_query_match(match: "re.Match[str]") -> str:
    name = match.group(2)
    return match.group(1) + MASK if is_secret_key(name) else match.group(0)


__all__ = ["MASK", "is_secret_key", "mask", "mask_text"]
