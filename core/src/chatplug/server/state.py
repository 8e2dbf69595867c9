"""The server's settings (from arguments or ``CHATPLUG_*`` variables) and per-app state."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Set

from aiohttp import web

from ..client import AsyncClient
from ..registry import Registry
from ..types import RetryPolicy, Timeout

DEFAULT_MAX_BODY = 8 * 1024 * 1024
DEFAULT_RETRIES = 2
#: seconds an idle keep-alive connection stays open
DEFAULT_KEEPALIVE = 75.0
#: seconds a request line and headers may take to arrive (from the connection, or their
#: first byte on a kept-alive connection)
DEFAULT_HEAD_TIMEOUT = 15.0
#: seconds the whole request body may take to arrive
DEFAULT_BODY_TIMEOUT = 60.0
#: seconds a client may leave the server's send buffer full (it stopped reading)
DEFAULT_WRITE_TIMEOUT = 30.0
#: seconds running requests may take to finish after SIGTERM/SIGINT
DEFAULT_GRACE = 30.0
#: seconds of event-loop blocking reported as a warning naming the plugin
DEFAULT_BLOCK_WARNING = 0.5

ENV_API_KEY = "CHATPLUG_API_KEY"
ENV_TIMEOUT = "CHATPLUG_SERVER_TIMEOUT"
ENV_RETRIES = "CHATPLUG_SERVER_RETRIES"
ENV_MAX_BODY = "CHATPLUG_SERVER_MAX_BODY"
ENV_ACCESS_LOG = "CHATPLUG_SERVER_ACCESS_LOG"
ENV_KEEPALIVE = "CHATPLUG_SERVER_KEEPALIVE"
ENV_HEAD_TIMEOUT = "CHATPLUG_SERVER_HEAD_TIMEOUT"
ENV_BODY_TIMEOUT = "CHATPLUG_SERVER_BODY_TIMEOUT"
ENV_WRITE_TIMEOUT = "CHATPLUG_SERVER_WRITE_TIMEOUT"
ENV_GRACE = "CHATPLUG_SERVER_GRACE"
ENV_BLOCK_WARNING = "CHATPLUG_SERVER_BLOCK_WARNING"


def server_retry(retries: int) -> RetryPolicy:
    """The server's retry policy: ``retries`` more attempts, 10 s at most in all, so that
    a long ``Retry-After`` goes back to the caller (as a 429) instead of holding it."""
    return RetryPolicy(attempts=max(1, retries + 1), max_time=10.0)


@dataclass(frozen=True)
class ServerSettings:
    """What ``create_app`` needs; :meth:`from_env` reads it from ``CHATPLUG_*`` variables.

    The connection limits (``keepalive`` ... ``grace``, in seconds) are documented in
    ``docs/server.md``; ``block_warning`` is the event-loop blocking reported (``0``: off).
    """

    api_key: Optional[str] = None
    base_urls: Mapping[str, str] = field(default_factory=dict)
    timeout: Optional[float] = None
    retries: Optional[int] = None
    max_body: int = DEFAULT_MAX_BODY
    access_log: bool = True
    keepalive: float = DEFAULT_KEEPALIVE
    head_timeout: float = DEFAULT_HEAD_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    write_timeout: float = DEFAULT_WRITE_TIMEOUT
    grace: float = DEFAULT_GRACE
    block_warning: float = DEFAULT_BLOCK_WARNING

    def __post_init__(self) -> None:
        if self.api_key is not None:
            validate_api_key(self.api_key)
        for name in ("keepalive", "head_timeout", "body_timeout", "write_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"the server's {name} must be a positive number of seconds")
        for name in ("grace", "block_warning"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"the server's {name} must be a number of seconds >= 0")

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "ServerSettings":
        env = os.environ if environ is None else environ
        key = env.get(ENV_API_KEY) or None
        if key is not None:
            validate_api_key(key, ENV_API_KEY)
        return cls(
            api_key=key,
            timeout=_number(env, ENV_TIMEOUT, float, None),
            retries=_number(env, ENV_RETRIES, int, None),
            max_body=_number(env, ENV_MAX_BODY, int, DEFAULT_MAX_BODY),
            access_log=env.get(ENV_ACCESS_LOG, "1").strip().lower()
            not in ("0", "false", "no", "off"),
            keepalive=_number(env, ENV_KEEPALIVE, float, DEFAULT_KEEPALIVE),
            head_timeout=_number(env, ENV_HEAD_TIMEOUT, float, DEFAULT_HEAD_TIMEOUT),
            body_timeout=_number(env, ENV_BODY_TIMEOUT, float, DEFAULT_BODY_TIMEOUT),
            write_timeout=_number(env, ENV_WRITE_TIMEOUT, float, DEFAULT_WRITE_TIMEOUT),
            grace=_number(env, ENV_GRACE, float, DEFAULT_GRACE),
            block_warning=_number(env, ENV_BLOCK_WARNING, float, DEFAULT_BLOCK_WARNING),
        )

    def client_timeout(self) -> Timeout:
        if self.timeout is None:
            return Timeout()
        return Timeout(connect=min(10.0, self.timeout), first_byte=self.timeout, idle=self.timeout)


def validate_api_key(key: str, source: str = "the API key") -> str:
    """``key`` if clients can send it in ``Authorization: Bearer <key>``, else ``ValueError``.

    Surrounding whitespace (a stray newline from a file or a shell) and control characters
    would lock every client out: the header cannot carry them (its value is stripped).
    """
    if not key:
        raise ValueError(f"{source} is empty")
    if key != key.strip():
        raise ValueError(
            f"{source} has leading or trailing whitespace ({len(key)} characters, "
            f"{len(key.strip())} without it): remove it, clients cannot send it"
        )
    bad = sorted({f"U+{ord(c):04X}" for c in key if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0})
    if bad:
        raise ValueError(f"{source} contains control characters ({', '.join(bad)})")
    return key


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
        #: the tasks of the requests being handled (for the graceful shutdown)
        self.requests: Set["asyncio.Task[Any]"] = set()
        #: requests cancelled by the shutdown after the grace period: they answer 503,
        #: or end their event stream with a ``server_shutting_down`` error event
        self.cut: Set["asyncio.Task[Any]"] = set()

    def claim_cut(self) -> bool:
        """Whether the current request's cancellation came from the shutdown (not from its
        client going away); if so the cancellation is withdrawn: the request answers."""
        task = asyncio.current_task()
        if task not in self.cut:
            return False
        uncancel = getattr(task, "uncancel", None)  # Python 3.11+
        if uncancel is not None:
            uncancel()
        return True


SETTINGS = web.AppKey("chatplug.server.settings", ServerSettings)
STATE = web.AppKey("chatplug.server.state", ServerState)
