"""Stream events: what a plugin may yield besides text (contract 0.2).

``stream_completion`` yields text deltas as plain ``str`` (exactly as in contract 0.1) and,
when the upstream says more than text, these immutable event objects::

    ReasoningDelta(text, redacted=False, metadata=None)   the model's reasoning, as it comes
    ToolCallDelta(index, id=None, name=None, arguments="")  one fragment of a tool call
    Usage(input_tokens, output_tokens, ...)                token counts (cumulative: the last wins)
    Finish(reason, raw=None)                                why the answer ended (at most one)
    ResponseMetadata(id=None, model=None)                   the upstream's response id and model

The rules, enforced by the core (a violation is a :class:`chatplug.PluginError` naming the
plugin, for that request only):

1. Anything yielded is a ``str`` or one of these events; nothing else (no bytes, no dicts).
2. At most one :class:`Finish`.  After it only :class:`Usage` and :class:`ResponseMetadata`
   may follow (OpenAI-style upstreams send usage after the finish reason).
3. The first fragment of a tool call (a new ``index``) carries its ``id`` and ``name``;
   later fragments of the same index carry only ``arguments`` (an ``id`` or ``name`` given
   again must be the same).  Indexes are integers from 0; arguments are string fragments
   whose concatenation is the call's JSON arguments.
4. :class:`Usage` may come several times; each one is the running total so far, and the
   last one is the answer's usage.  Token counts are non-negative integers.
5. A stream that ends with neither text nor a :class:`Finish` is a protocol error; a
   :class:`Finish` without text (tool calls only, an empty answer) is a complete answer.
6. :class:`ResponseMetadata` may come at any time; a later one fills in what an earlier
   one left as ``None``.

Text stays a bare ``str`` on the hot path: there is no event object for text.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Optional, Union

__all__ = [
    "FINISH_REASONS",
    "Event",
    "Finish",
    "ReasoningDelta",
    "ResponseMetadata",
    "StreamItem",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

#: The normalized finish reasons (``Finish.reason``).
STOP, LENGTH, TOOL_CALLS, CONTENT_FILTER, ERROR, OTHER = (
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "error",
    "other",
)
FINISH_REASONS = frozenset({STOP, LENGTH, TOOL_CALLS, CONTENT_FILTER, ERROR, OTHER})


class ReasoningDelta(NamedTuple):
    """A piece of the model's reasoning (thinking) text.

    ``redacted`` marks reasoning the upstream keeps encrypted (``text`` is then empty or a
    placeholder); ``metadata`` is opaque provider data (e.g. a thinking ``signature``) that
    must be sent back unchanged on the next turn of the conversation.
    """

    text: str
    redacted: bool = False
    metadata: Optional[Mapping[str, Any]] = None


class ToolCallDelta(NamedTuple):
    """One fragment of a tool (function) call: see rule 3 in :mod:`chatplug.events`."""

    index: int  # type: ignore[assignment]  # the field shadows tuple.index, on purpose
    id: Optional[str] = None
    name: Optional[str] = None
    arguments: str = ""


class Usage(NamedTuple):
    """Token counts of the whole exchange so far (cumulative: the last one wins).

    ``cached_input_tokens`` and ``reasoning_tokens`` are parts of ``input_tokens`` and
    ``output_tokens`` when the upstream reports them; ``raw`` is the upstream's own object.
    """

    input_tokens: int
    output_tokens: int
    cached_input_tokens: Optional[int] = None
    reasoning_tokens: Optional[int] = None
    raw: Optional[Mapping[str, Any]] = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Finish(NamedTuple):
    """Why the answer ended: ``reason`` is one of :data:`FINISH_REASONS` (``stop``,
    ``length``, ``tool_calls``, ``content_filter``, ``error``, ``other``); ``raw`` is the
    upstream's own value (``"end_turn"``, ``"MAX_TOKENS"``…)."""

    reason: str
    raw: Optional[Any] = None


class ResponseMetadata(NamedTuple):
    """The upstream's response id and the model name it reported."""

    id: Optional[str] = None
    model: Optional[str] = None


class ToolCall(NamedTuple):
    """A tool call assembled from its fragments (what callers read after the stream)."""

    index: int  # type: ignore[assignment]  # the field shadows tuple.index, on purpose
    id: str
    name: str
    arguments: str


Event = Union[ReasoningDelta, ToolCallDelta, Usage, Finish, ResponseMetadata]
#: What ``stream_completion`` may yield: a text delta or an event.
StreamItem = Union[str, Event]
