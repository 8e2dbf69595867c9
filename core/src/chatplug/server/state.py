"""The server's settings (from arguments or ``CHATPLUG_*`` variables) and per-app state."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional

from aiohttp import web

from ..client import AsyncClient
from ..registry import Registry
from ..types import RetryPolicy, Timeout

DEFAULT_MAX_BODY = 8 * 1024 * 1024
DEFAULT_RETRIES = 2

ENV_API_KEY = "CHATPLUG_API_KEY"
ENV_TIMEOUT = "CHATPLUG_SERVER_TIMEOUT"
ENV_RETRIES = "CHATPLUG_SERVER_RETRIES"
ENV_MAX_BODY = "CHATPLUG_SERVER_MAX_BODY"
ENV_ACCESS_LOG = "CHATPLUG_SERVER_ACCESS_LOG"


def server_retry(retries: int) -> RetryPolicy:
    """The server's retry policy: ``retries`` more attempts, 10 s at most in all, so that
    a long ``Retry-After`` goes back to the caller (as a 429) instead of holding it."""
    return RetryPolicy(attempts=max(1, retries + 1), max_time=10.0)


@dataclass(frozen=True)
class ServerSettings:
    """What ``create_app`` needs; :meth:`from_env` reads it from ``CHATPLUG_*`` variables."""

    api_key: Optional[str] = None
    base_urls: Mapping[str, str] = field(default_factory=dict)
    timeout: Optional[float] = None
    retries: Optional[int] = None
    max_body: int = DEFAULT_MAX_BODY
    access_log: bool = True

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "ServerSettings":
        env = os.environ if environ is None else environ
        return cls(
            api_key=env.get(ENV_API_KEY) or None,
            timeout=_number(env, ENV_TIMEOUT, float, None),
            retries=_number(env, ENV_RETRIES, int, None),
            max_body=_number(env, ENV_MAX_BODY, int, DEFAULT_MAX_BODY),
            access_log=env.get(ENV_ACCESS_LOG, "1").strip().lower()
            not in ("0", "false", "no", "off"),
        )

    def client_timeout(self) -> Timeout:
        if self.timeout is None:
            return Timeout()
        return Timeout(connect=min(10.0, self.timeout), first_byte=self.timeout, idle=self.timeout)


def _number(env: Mapping[str, str], name: str, kind: Callable[[str], Any], default: Any) -> Any:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


class ServerState:
    """Mutable per-app state: the client and the cached model list."""

    def __init__(self, client: Optional[AsyncClient], registry: Optional[Registry]) -> None:
        self.client = client
        self.owns_client = client is None
        self.registry = registry
        self.models_body = b'{"object":"list","data":[]}'
        self.models: Dict[str, Dict[str, Any]] = {}
        self.active_streams = 0


SETTINGS = web.AppKey("chatplug.server.settings", ServerSettings)
STATE = web.AppKey("chatplug.server.state", ServerState)
