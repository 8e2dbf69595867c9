"""What a chat needs, one-shot or interactive: its settings, the client (with the emulator
under ``--emulate``), streaming one answer (reasoning dimmed on stderr, each turn logged)
and saying who answered."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Dict,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

from .output import dim

if TYPE_CHECKING:  # pragma: no cover
    from ..client import AsyncClient
    from ..events import ToolCall, Usage
    from ..stream import Stream
    from .chatlog import ChatLog


@dataclass
class ChatSettings:
    """What ``chatplug chat`` was asked for."""

    model: Optional[str] = None
    provider: Optional[str] = None
    system: Optional[str] = None
    options: Dict[str, Any] = field(default_factory=dict)
    proxy: Optional[str] = None
    timeout: Optional[float] = None
    stream: bool = True
    as_json: bool = False
    emulate: bool = False
    #: show the model's reasoning (dimmed, on stderr) as it streams
    reasoning: bool = True
    #: say which provider and model answered even when stderr is not a terminal
    verbose: bool = False
    #: image URLs (``data:`` or ``http(s):``) sent with the prompt
    attachments: Tuple[str, ...] = ()
    #: the ``response_format`` of ``--schema``
    response_format: Optional[Dict[str, Any]] = None

    def request_options(self) -> Dict[str, Any]:
        """The keyword arguments of every request (and what the log keeps as options)."""
        if self.response_format is None:
            return dict(self.options)
        return {**self.options, "response_format": self.response_format}


class Target(NamedTuple):
    """Whom a chat asks: the client, the provider and model (``None``: the client
    resolves them) and the base URL of an emulator (``None``: the provider's own)."""

    client: "AsyncClient"
    provider: Optional[str]
    model: Optional[str]
    base_url: Optional[str] = None


def conversation(settings: ChatSettings, history: Sequence[Mapping[str, Any]] = ()) -> List[Any]:
    """The start of a conversation: a continued one's history, and the system prompt (which
    replaces the history's own when given)."""
    messages = [dict(message) for message in history]
    if settings.system:
        messages = [m for m in messages if m.get("role") != "system"]
        messages.insert(0, {"role": "system", "content": settings.system})
    return messages


@contextlib.asynccontextmanager
async def open_chat_client(settings: ChatSettings) -> AsyncIterator[Target]:
    """The client for ``settings`` and whom to ask.

    With ``--emulate`` the emulator of the provider that would answer runs on 127.0.0.1 in
    this loop and the requests go there; the provider is then always named explicitly so
    that nothing falls back to a real upstream.
    """
    from ..client import AsyncClient

    proxy = settings.proxy
    if settings.emulate and proxy is None:
        proxy = ""  # the emulator is on 127.0.0.1: never through a configured proxy
    client = AsyncClient(proxy=proxy, timeout=settings.timeout)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(client)
        if settings.emulate:
            from .emulate import attach_emulator

            emulated = await attach_emulator(stack, client, settings.provider, settings.model)
            yield Target(client, emulated.provider, emulated.model, emulated.base_url)
        else:
            yield Target(client, settings.provider, settings.model)


class Answer:
    """One answer, as it arrives: its text pieces, and what else the stream reported."""

    def __init__(self) -> None:
        self.pieces: List[str] = []
        self.provider: Optional[str] = None
        self.model: Optional[str] = None
        self.first_chunk: Optional[float] = None
        self.total: Optional[float] = None
        self.reasoning = ""
        self.tool_calls: List["ToolCall"] = []
        self.usage: Optional["Usage"] = None
        self.finish_reason: Optional[str] = None
        #: the ids of the logged exchange and its conversation (``None``: not logged)
        self.exchange_id: Optional[str] = None
        self.conversation_id: Optional[str] = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def take(self, stream: "Stream") -> None:
        """What ``stream`` reported besides text (during or after it)."""
        self.provider = stream.provider or self.provider
        self.model = stream.model or self.model
        self.reasoning = stream.reasoning
        self.tool_calls = stream.tool_calls
        self.usage = stream.usage
        self.finish_reason = stream.finish_reason

    def tool_calls_json(self) -> List[Dict[str, Any]]:
        """The tool calls in OpenAI's shape."""
        from ..stream import openai_tool_calls

        return openai_tool_calls(self.tool_calls)

    def usage_json(self) -> Optional[Dict[str, Optional[int]]]:
        usage = self.usage
        if usage is None:
            return None
        return {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_tokens": usage.cached_input_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        }

    def who(self) -> str:
        """``[provider/model]`` (and the finish reason unless ``stop``)."""
        finish = self.finish_reason
        tail = f", finish {finish}" if finish and finish != "stop" else ""
        return f"[{self.provider or '?'}/{self.model or '?'}{tail}]"


class _Reasoning:
    """Reasoning shown on stderr while it streams: dimmed on a terminal, then one line
    break before the answer's text."""

    def __init__(self, err: Optional[IO[str]]) -> None:
        self.err = err
        self.open = False

    def write(self, text: str) -> None:
        if self.err is not None and text:
            self.err.write(dim(text, self.err))
            self.err.flush()
            self.open = True

    def end(self) -> None:
        if self.open and self.err is not None:
            self.err.write("\n")
            self.err.flush()
        self.open = False


async def stream_answer(
    target: Target,
    messages: Sequence[Mapping[str, Any]],
    settings: ChatSettings,
    answer: Answer,
    out: Optional[IO[str]] = None,
    log: Optional["ChatLog"] = None,
    logged: Optional[Sequence[Mapping[str, Any]]] = None,
) -> Answer:
    """Stream one answer into ``answer``, writing each text piece to ``out`` and the
    reasoning to stderr as they arrive; ``log`` records the exchange (``logged``: the
    messages as the log knows them, by default ``messages``)."""
    import asyncio

    from ..events import ReasoningDelta

    loop = asyncio.get_running_loop()
    options = settings.request_options()
    show = _Reasoning(sys.stderr if settings.reasoning and not settings.as_json else None)
    started = loop.time()
    stream = target.client.stream(  # a request refused here was not sent: not logged
        list(messages),
        model=target.model,
        provider=target.provider,
        base_url=target.base_url,
        **options,
    )
    record = None
    if log is not None:
        record = log.begin(logged or messages, target.provider, target.model, options)
        if record is not None:
            answer.exchange_id, answer.conversation_id = record.id, record.conversation_id
    try:
        async with stream:
            async for item in stream.events():
                if answer.first_chunk is None:
                    answer.first_chunk = loop.time() - started
                    answer.provider, answer.model = stream.provider, stream.model
                if item.__class__ is str:
                    show.end()
                    answer.pieces.append(item)
                    if record is not None:
                        record.add_text(item)
                    if out is not None:
                        out.write(item)
                        out.flush()
                elif isinstance(item, ReasoningDelta):
                    if not item.redacted:
                        show.write(item.text)
                    if record is not None:
                        record.add_reasoning(item.text)
                elif record is not None:
                    record.mark_first_chunk()
        show.end()
    except BaseException as error:
        show.end()
        answer.take(stream)
        if record is not None and log is not None:
            record.fail(error, facts=stream)
            log.write(record)
        raise
    answer.total = loop.time() - started
    answer.take(stream)
    if record is not None and log is not None:
        record.finish(stream)
        log.write(record)
    return answer


def say_who_answered(answer: Answer) -> None:
    """The dim ``[provider/model]`` line on stderr."""
    sys.stderr.write(dim(answer.who(), sys.stderr) + "\n")
    sys.stderr.flush()


def finish_line(text: str) -> None:
    """End the answer's line on stdout (unless it ended with a newline), and flush."""
    if text and not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
