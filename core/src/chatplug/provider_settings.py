"""The settings most HTTP API plugins share: the API key and extra headers.

A provider's configuration table (``request.settings``) may hold:

- ``api_key_env``: the environment variable holding the key, read at request time
  (``""``: never send a key);
- ``api_key``: the key itself, where the plugin accepts it (keys do not belong in files);
- ``headers``: extra HTTP headers.

Without ``api_key_env`` the plugin's own variables serve its own provider id
(``OPENAI_API_KEY`` for ``openai``) and ``<ID>_API_KEY`` any other id it serves
(``my-vllm`` → ``MY_VLLM_API_KEY``): one provider's key never goes to another by default.
Keys are never part of a hint or an error (see :func:`chatplug.http.redact`).
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

__all__ = ["api_key", "default_key_env", "json_headers", "key_hint", "key_variables"]

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def default_key_env(provider: str) -> str:
    """``<ID>_API_KEY`` for provider ``provider`` (``my-vllm`` → ``MY_VLLM_API_KEY``)."""
    return _NOT_ALNUM.sub("_", provider).upper() + "_API_KEY"


def key_variables(
    provider: str,
    settings: Mapping[str, Any],
    own: Mapping[str, Sequence[str]] = {},
) -> Tuple[str, ...]:
    """The variables that may hold the key, in order (empty: never send one).

    ``api_key_env`` when configured; else ``own[provider]`` (the plugin's own variables
    for its own ids); else :func:`default_key_env`.
    """
    configured = settings.get("api_key_env")
    if configured is not None:
        return (str(configured),) if configured else ()
    return tuple(own.get(provider) or (default_key_env(provider),))


def api_key(
    provider: str,
    settings: Mapping[str, Any],
    own: Mapping[str, Sequence[str]] = {},
    *,
    literal: bool = True,
) -> Optional[str]:
    """The key: the ``api_key`` setting (when ``literal``), else the first of
    :func:`key_variables` that is set, read now; ``None`` without one."""
    configured = settings.get("api_key") if literal else None
    if configured:
        return str(configured)
    for name in key_variables(provider, settings, own):
        value = os.environ.get(name)
        if value:
            return value
    return None


def key_hint(
    provider: str,
    settings: Mapping[str, Any],
    key: Optional[str],
    own: Mapping[str, Sequence[str]] = {},
    *,
    wanted: str = "a valid API key",
) -> str:
    """What to do when the upstream refuses the request's key (``key``: the one sent)."""
    if settings.get("api_key"):
        return f"The api_key setting of [providers.{provider}] was refused: check the key."
    names = key_variables(provider, settings, own)
    if not names:
        return (
            f"The server wants an API key: set api_key_env in [providers.{provider}] "
            "and put the key in that environment variable."
        )
    shown = " or ".join(names)
    state = "is set but was refused" if key else "is not set"
    return f"Set the environment variable {shown} to {wanted} ({shown} {state})."


def json_headers(settings: Mapping[str, Any], accept: str, user_agent: str) -> Dict[str, str]:
    """The headers of a JSON request whose answer is ``accept``, sent as ``user_agent``,
    then the ``headers`` setting (names lower-cased; they win)."""
    headers = {"content-type": "application/json", "accept": accept, "user-agent": user_agent}
    extra = settings.get("headers")
    if isinstance(extra, Mapping):
        headers.update({str(name).lower(): str(value) for name, value in extra.items()})
    return headers
