"""What a chat needs, one-shot or interactive: its settings, the client (with the emulator
under ``--emulate``) and streaming one answer."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..client import AsyncClient


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


def conversation(settings: ChatSettings) -> List[Dict[str, str]]:
    """The start of a conversation: the system prompt, if any."""
    return [{"role": "system", "content": settings.system}] if settings.system else []


@contextlib.asynccontextmanager
async def open_chat_client(
    settings: ChatSettings,
) -> AsyncIterator[Tuple["AsyncClient", Optional[str], Optional[str]]]:
    """The client for ``settings`` and the (provider, model) to ask.

    With ``--emulate`` the provider's emulator runs on 127.0.0.1 in this loop and the
    provider's base_url points at it; the provider is then always named explicitly so
    that nothing falls back to a real upstream.
    """
    from ..client import AsyncClient

    proxy = settings.proxy
    if settings.emulate and proxy is None:
        proxy = ""  # the emulator is on 127.0.0.1: never through a configured proxy
    client = AsyncClient(proxy=proxy, timeout=settings.timeout)
    provider, model = settings.provider, settings.model
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(client)
        if settings.emulate:
            from .emulate import attach_emulator

            provider, model = await attach_emulator(stack, client, provider, model)
        yield client, provider, model


class Answer:
    """The text of one answer, as it arrives."""

    def __init__(self) -> None:
        self.pieces: List[str] = []
        self.provider: Optional[str] = None
        self.model: Optional[str] = None
        self.first_chunk: Optional[float] = None
        self.total: Optional[float] = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)


async def stream_answer(
    client: "AsyncClient",
    messages: Sequence[Mapping[str, str]],
    provider: Optional[str],
    model: Optional[str],
    settings: ChatSettings,
    answer: Answer,
    out: Optional[Any] = None,
) -> Answer:
    """Stream one answer into ``answer``, writing each piece to ``out`` as it arrives."""
    import asyncio

    loop = asyncio.get_running_loop()
    started = loop.time()
    stream = client.stream(list(messages), model=model, provider=provider, **settings.options)
    async with stream:
        async for piece in stream:
            if answer.first_chunk is None:
                answer.first_chunk = loop.time() - started
                answer.provider, answer.model = stream.provider, stream.model
            answer.pieces.append(piece)
            if out is not None:
                out.write(piece)
                out.flush()
    answer.total = loop.time() - started
    return answer


def finish_line(text: str) -> None:
    """End the answer's line on stdout (unless it ended with a newline), and flush."""
    if text and not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
