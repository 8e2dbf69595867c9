"""The value types of the plugin contract: models, requests and timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    FrozenSet,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

#: One OpenAI-style message.  ``content`` is a ``str`` for text (always, for a model
#: without the ``images`` capability), a list of content parts when it holds images, or
#: ``None`` for an assistant message that only calls tools (see docs/plugin-authors.md).
Message = Dict[str, Any]

#: What a model can do (``ModelInfo.capabilities``).  A request that needs one the chosen
#: model does not declare fails before any network traffic.
TOOLS = "tools"  # function tools, tool_choice, tool calls and tool messages in history
IMAGES = "images"  # image content parts
JSON_SCHEMA = "json_schema"  # response_format {"type": "json_schema"}
JSON_OBJECT = "json_object"  # response_format {"type": "json_object"}
REASONING = "reasoning"  # reasoning_effort, and reasoning events in the answer
USAGE = "usage"  # the plugin reports the upstream's real token usage
CAPABILITIES = frozenset({TOOLS, IMAGES, JSON_SCHEMA, JSON_OBJECT, REASONING, USAGE})

#: What kind of upstream a model lives on (``ModelInfo.upstream``): it decides who answers
#: a bare model id offered by several providers (official first, web chats last).
OFFICIAL = "official"  # the model maker's own API (OpenAI, Anthropic, Google…)
SELF_HOSTED = "self-hosted"  # a server the user runs (Ollama, vLLM, llama.cpp…)
WEB_CHAT = "web-chat"  # a third-party web chat in front of someone else's model
UNKNOWN = "unknown"  # not declared (every 0.1 plugin)
UPSTREAM_KINDS = (OFFICIAL, SELF_HOSTED, UNKNOWN, WEB_CHAT)  # in order of preference


@dataclass(frozen=True)
class ModelInfo:
    """One model in a provider's catalogue.

    ``aliases`` are other names that resolve to this model; an alias wins over a plain id
    of another model when resolving.  ``default`` marks the provider's default model.
    ``metadata`` holds anything else (``url``, ``working``...).

    Contract 0.2: ``capabilities`` is what the model can do (:data:`CAPABILITIES`: ``tools``,
    ``images``, ``json_schema``, ``json_object``, ``reasoning``, ``usage``; none for a 0.1
    plugin, i.e. text only); ``upstream`` the kind of upstream (:data:`UPSTREAM_KINDS`).
    """

    id: str
    provider: str
    aliases: Tuple[str, ...] = ()
    default: bool = False
    name: Optional[str] = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    capabilities: FrozenSet[str] = frozenset()
    upstream: str = UNKNOWN

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


class Tool(NamedTuple):
    """A function tool the model may call: ``parameters`` is its JSON Schema."""

    name: str
    description: Optional[str] = None
    parameters: Optional[Mapping[str, Any]] = None
    strict: Optional[bool] = None


class ResponseFormat(NamedTuple):
    """Structured output: ``type`` is ``"json_object"`` or ``"json_schema"`` (then with the
    schema's ``name``, ``schema`` and ``strict``)."""

    type: str
    name: Optional[str] = None
    schema: Optional[Mapping[str, Any]] = None
    strict: Optional[bool] = None


#: ``"auto"``, ``"none"``, ``"required"``, or the name of the one function to call.
ToolChoice = str
StopInput = Union[str, Sequence[str]]


@dataclass(frozen=True)
class CompletionRequest:
    """Everything a provider needs to stream one completion.

    ``model`` is the resolved model id; ``messages`` the validated conversation; ``prompt``
    the conversation rendered by ``format_prompt`` (for upstreams without message
    history); ``options`` the caller's options as given (``system``, ``temperature``, and
    any provider-specific ones); ``proxy`` the HTTP proxy URL or ``None``; ``base_url`` the
    user's override of the provider's URL, or ``None`` to use the plugin's own; ``timeout``
    the timeouts; ``settings`` the provider's own settings from configuration.

    Contract 0.2 adds the standard request fields, typed and validated by the core before
    any network traffic (``None`` / empty: not asked for).  Sampling parameters are also in
    ``options`` under the same names, as in 0.1.  The core refuses ``tools``, image parts,
    ``response_format`` and ``reasoning_effort`` for a model without the capability, so a
    plugin only receives what its models declare.  ``tool_choice`` is ``"auto"``,
    ``"none"``, ``"required"`` or a function name; ``max_tokens`` is the caller's
    ``max_tokens`` or ``max_completion_tokens``; ``stop`` a tuple of strings.
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
    tools: Tuple[Tool, ...] = ()
    tool_choice: Optional[ToolChoice] = None
    parallel_tool_calls: Optional[bool] = None
    response_format: Optional[ResponseFormat] = None
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    max_tokens: Optional[int] = None
    stop: Tuple[str, ...] = ()
    seed: Optional[int] = None
    presence_penalty: Optional[float] = None
    frequency_penalty: Optional[float] = None
    logit_bias: Optional[Mapping[str, float]] = None
    user: Optional[str] = None
    reasoning_effort: Optional[str] = None
    metadata: Optional[Mapping[str, str]] = None

    def url(self, default_base: str, path: str = "") -> str:
        """``(base_url or default_base)`` joined with ``path``."""
        base = (self.base_url or default_base).rstrip("/")
        return base + path
