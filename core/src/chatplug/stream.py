"""The :class:`Stream` an :class:`~chatplug.AsyncClient` returns, and the one-shot
:class:`Completion`.

``async for text in stream`` yields the answer's text only (plain ``str``, the hot path);
what else the plugin said (reasoning, tool calls, usage, the finish reason, the upstream's
response metadata) is recorded on the side and readable during and after iteration.
``stream.events()`` iterates everything instead: ``str`` for text, event objects
(:mod:`chatplug.events`) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .events import Event, Finish, ReasoningDelta, ResponseMetadata, ToolCall, Usage

#: ``attempts(progress, with_events)``: the generator behind a stream (see ``_attempts``)
Source = Callable[["_Progress", bool], AsyncIterator[Any]]


class _Progress:
    """What the generator reports to its :class:`Stream`.

    Kept apart from the stream so that the stream and its generator form no reference
    cycle: a consumer dropping the stream (``break`` out of ``async for``) frees it at once,
    and the event loop's async-generator finalizer then closes the upstream response.
    The events of the attempt in progress are recorded here (``reset`` before each attempt).
    """

    __slots__ = (
        "attempts",
        "committed",
        "completed",
        "finish",
        "model",
        "provider",
        "reasoning",
        "response",
        "text_length",
        "tool_calls",
        "usage",
    )

    def __init__(self) -> None:
        self.provider: Optional[str] = None
        self.model: Optional[str] = None
        self.text_length = 0
        self.attempts: List[Tuple[str, str]] = []
        self.reset()

    def reset(self) -> None:
        """Forget what an attempt recorded (before the next one)."""
        self.usage: Optional[Usage] = None
        self.finish: Optional[Finish] = None
        self.response: Optional[ResponseMetadata] = None
        self.reasoning: List[ReasoningDelta] = []
        #: index -> [id, name, argument fragments]
        self.tool_calls: Dict[int, List[Any]] = {}
        #: a reasoning or tool-call event reached the caller: never retry or fall back
        self.committed = False
        #: the stream ended cleanly
        self.completed = False


class Stream:
    """An answer being streamed: iterate it for text pieces (``async for``).

    Use it as an async context manager (or call :meth:`aclose`) to release the upstream
    connection at once when you stop early.  After the first piece, ``provider`` and
    ``model`` say who is answering; ``text_length`` counts the characters yielded (set at
    the first piece and when the stream ends or fails, not on every piece).

    During and after iteration: ``usage``, ``finish``, ``finish_reason``, ``tool_calls``,
    ``reasoning`` and ``response`` say what the plugin reported besides text.
    :meth:`events` iterates everything instead of text only (one way per stream).
    """

    __slots__ = ("_agen", "_events", "_progress", "_source")

    def __init__(self, source: Optional[Source] = None) -> None:
        self._source = source
        self._agen: Optional[AsyncIterator[Any]] = None
        self._events = False
        self._progress = _Progress()

    @property
    def provider(self) -> Optional[str]:
        return self._progress.provider

    @property
    def model(self) -> Optional[str]:
        return self._progress.model

    @property
    def text_length(self) -> int:
        return self._progress.text_length

    @property
    def attempts(self) -> List[Tuple[str, str]]:
        """``(provider, model)`` of every attempt so far, retries included."""
        return self._progress.attempts

    @property
    def usage(self) -> Optional[Usage]:
        """The upstream's token usage (the last :class:`~chatplug.events.Usage`), or
        ``None`` when the plugin reported none (never an estimate)."""
        return self._progress.usage

    @property
    def finish(self) -> Optional[Finish]:
        """The plugin's :class:`~chatplug.events.Finish`, or ``None`` (none reported yet)."""
        return self._progress.finish

    @property
    def finish_reason(self) -> Optional[str]:
        """Why the answer ended: the plugin's finish reason, ``"stop"`` once a plugin that
        reports none (contract 0.1) ended cleanly, ``None`` before the end or after an error."""
        progress = self._progress
        if progress.finish is not None:
            return progress.finish.reason
        return "stop" if progress.completed else None

    @property
    def tool_calls(self) -> List[ToolCall]:
        """The tool calls so far, assembled from their fragments, by index."""
        return [
            ToolCall(index, call[0], call[1], "".join(call[2]))
            for index, call in sorted(self._progress.tool_calls.items())
        ]

    @property
    def reasoning(self) -> str:
        """The reasoning text so far (``""`` when the model reported none)."""
        return "".join([delta.text for delta in self._progress.reasoning])

    @property
    def reasoning_blocks(self) -> List[Dict[str, Any]]:
        """The reasoning as blocks to send back on the next turn (the assistant message's
        ``reasoning`` key): consecutive deltas joined, each block closed by a delta that
        carries ``metadata`` (e.g. a signature); redacted reasoning is a block of its own.
        Empty when the model reported no reasoning."""
        return reasoning_blocks(self._progress.reasoning)

    @property
    def response(self) -> Optional[ResponseMetadata]:
        """The upstream's response id and model name, when the plugin reported them."""
        return self._progress.response

    def _open(self, events: bool) -> AsyncIterator[Any]:
        agen = self._agen
        if agen is None:
            if self._source is None:  # pragma: no cover - a Stream made by hand
                raise RuntimeError("this Stream has no source")
            # the generator holds the _Progress, not the stream: dropping the stream is fine
            agen = self._agen = self._source(self._progress, events)
            self._source, self._events = None, events
        elif events != self._events:
            raise RuntimeError(
                "this stream is already iterated "
                + ("for events" if self._events else "for text")
                + "; iterate it one way only"
            )
        return agen

    def __aiter__(self) -> AsyncIterator[str]:
        # ``async for`` drives the generator itself: no Python-level __anext__ per piece.
        return self._agen if self._agen is not None and not self._events else self._open(False)

    def __anext__(self) -> Any:
        return self.__aiter__().__anext__()

    def events(self) -> AsyncIterator[Union[str, Event]]:
        """Iterate everything: ``str`` for text, :mod:`chatplug.events` objects otherwise."""
        return self._open(True)

    async def aclose(self) -> None:
        self._source = None
        if self._agen is not None:
            await self._agen.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> "Stream":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def completion(self, text: str) -> "Completion":
        """The :class:`Completion` of this (finished) stream whose text was ``text``."""
        return Completion(
            text=text,
            reasoning=self.reasoning,
            reasoning_blocks=tuple(self.reasoning_blocks),
            tool_calls=tuple(self.tool_calls),
            finish_reason=self.finish_reason,
            finish=self.finish,
            usage=self.usage,
            provider=self.provider,
            model=self.model,
            response=self.response,
        )


@dataclass(frozen=True)
class Completion:
    """A whole answer (:meth:`AsyncClient.respond <chatplug.AsyncClient.respond>`).

    ``text`` may be empty when the answer is only tool calls; ``finish_reason`` is
    ``"stop"`` for a plugin that reports none; ``usage`` is ``None`` unless the plugin
    reported the upstream's (never an estimate); ``response`` the upstream's id and model.
    """

    text: str
    reasoning: str = ""
    tool_calls: Tuple[ToolCall, ...] = ()
    finish_reason: Optional[str] = None
    finish: Optional[Finish] = None
    usage: Optional[Usage] = None
    provider: Optional[str] = None
    model: Optional[str] = None
    response: Optional[ResponseMetadata] = None
    reasoning_blocks: Tuple[Dict[str, Any], ...] = ()

    def __str__(self) -> str:
        return self.text

    @property
    def message(self) -> Dict[str, Any]:
        """This answer as the assistant message to append to the conversation for the next
        turn: its text, its ``tool_calls`` (OpenAI shape) and, when the model reasoned, its
        ``reasoning`` blocks (signatures included, so that they round-trip)."""
        message: Dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = openai_tool_calls(self.tool_calls)
        if self.reasoning_blocks:
            message["reasoning"] = [dict(block) for block in self.reasoning_blocks]
        return message


def openai_tool_calls(calls: Sequence[ToolCall]) -> List[Dict[str, Any]]:
    """Assembled tool calls in OpenAI's shape (an assistant message's ``tool_calls``):
    ``[{"id", "type": "function", "function": {"name", "arguments"}}]``."""
    return [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in calls
    ]


def reasoning_blocks(deltas: Sequence[ReasoningDelta]) -> List[Dict[str, Any]]:
    """Join reasoning deltas into blocks ``{"text", "redacted"?, "metadata"?}``."""
    blocks: List[Dict[str, Any]] = []
    texts: List[str] = []
    for delta in deltas:
        if delta.redacted:
            if texts:
                blocks.append({"text": "".join(texts)})
                texts = []
            block: Dict[str, Any] = {"text": delta.text, "redacted": True}
            if delta.metadata:
                block["metadata"] = dict(delta.metadata)
            blocks.append(block)
            continue
        texts.append(delta.text)
        if delta.metadata:
            blocks.append({"text": "".join(texts), "metadata": dict(delta.metadata)})
            texts = []
    if texts and any(texts):
        blocks.append({"text": "".join(texts)})
    return blocks
