"""The value types of the plugin contract: models, requests and timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

Message = Dict[str, str]


@dataclass(frozen=True)
class ModelInfo:
    """One model in a provider's catalogue.

    ``aliases`` are other names that resolve to this model; an alias wins over a plain id
    of another model when resolving.  ``default`` marks the provider's default model.
    ``metadata`` holds anything else (``url``, ``working``, ``capabilities``...).
    """

    id: str
    provider: str
    aliases: Tuple[str, ...] = ()
    default: bool = False
    name: Optional[str] = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def qualified_id(self) -> str:
        """``provider/model``: the unambiguous address of this model."""
        return f"{self.provider}/{self.id}"


@dataclass(frozen=True)
class Timeout:
    """Timeouts in seconds; ``None`` disables one.

    ``connect``: establishing the connection.  ``first_byte``: from sending the request to
    the first text piece.  ``idle``: between two reads of the response (it also bounds the
    wait for the response headers).  ``total``: the whole completion.
    """

    connect: Optional[float] = 10.0
    first_byte: Optional[float] = 60.0
    idle: Optional[float] = 60.0
    total: Optional[float] = None

    def __post_init__(self) -> None:
        for phase in ("connect", "first_byte", "idle", "total"):
            seconds = getattr(self, phase)
            if seconds is None:
                continue
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                problem = f"not a {type(seconds).__name__}"
            elif not seconds > 0:  # also NaN
                problem = f"not {seconds!r}"
            else:
                continue
            from .errors import InvalidRequestError

            raise InvalidRequestError(
                f"the {phase} timeout must be a positive number of seconds (or None), {problem}"
            )

    @classmethod
    def coerce(cls, value: "Timeout | float | None") -> "Timeout":
        """A :class:`Timeout` from a number (every phase) or ``None`` (the defaults)."""
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        seconds = float(value)
        return cls(connect=seconds, first_byte=seconds, idle=seconds, total=None)

    def client_timeout(self) -> "aiohttp.ClientTimeout":
        """The equivalent :class:`aiohttp.ClientTimeout` (first_byte is enforced by the core)."""
        import aiohttp

        return aiohttp.ClientTimeout(
            total=self.total, sock_connect=self.connect, sock_read=self.idle
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a provider before falling back to the next.

    Retried: connection errors, timeouts before the first chunk, HTTP 429 (waiting for
    ``Retry-After`` when given) and 5xx.  Never retried: other 4xx, or anything after the
    first text piece was yielded.
    """

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_time: float = 30.0
    jitter: float = 0.1

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (``attempt`` starts at 1)."""
        import random

        if retry_after is not None:
            return max(0.0, retry_after)
        base = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return base + random.uniform(0, self.jitter * base)


@dataclass(frozen=True)
class CompletionRequest:
    """Everything a provider needs to stream one completion.

    ``model`` is the resolved model id; ``messages`` the validated conversation; ``prompt``
    the conversation rendered by ``format_prompt`` (for upstreams without message
    history); ``options`` the caller's options (``system``, ``temperature``, ...);
    ``proxy`` the HTTP proxy URL or ``None``; ``base_url`` the user's override of the
    provider's URL, or ``None`` to use the plugin's own; ``timeout`` the timeouts;
    ``settings`` the provider's own settings from configuration (e.g. ``api_key_env``).
    """

    provider: str
    model: str
    messages: Tuple[Message, ...]
    prompt: str
    options: Mapping[str, Any] = field(default_factory=dict)
    proxy: Optional[str] = None
    base_url: Optional[str] = None
    timeout: Timeout = field(default_factory=Timeout)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def url(self, default_base: str, path: str = "") -> str:
        """``(base_url or default_base)`` joined with ``path``."""
        base = (self.base_url or default_base).rstrip("/")
        return base + path
