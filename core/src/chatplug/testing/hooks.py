"""Calling a plugin's ``stream_completion`` hook directly, as the core calls it.

A plugin's unit tests build the request the core would hand over and collect what the
hook yields, without a client (no retries, no fallback, no event rules)::

    import functools
    from chatplug.testing import collect_items, completion_request, text_of
    from chatplug_acme import stream_completion

    make_request = functools.partial(completion_request, provider="acme", model="acme-1")
    collect = functools.partial(collect_items, stream_completion)

    async def test_the_answer_streams(emulator):
        items = await collect(make_request((await emulator()).url))
        assert text_of(items) == "Hello ✓"

:func:`parse_chunks` does the same for the plugin's incremental parser alone: the items it
makes of a body cut anywhere (``split_bytes(body, sizes)``), without the network.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Type,
    TypeVar,
    Union,
)

from ..events import StreamItem
from ..messages import format_prompt
from ..types import CompletionRequest, Timeout

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

    from ..parsing import IncrementalParser

__all__ = [
    "CONVERSATION",
    "HELLO",
    "collect_items",
    "completion_request",
    "of_type",
    "parse_chunks",
    "text_of",
]

#: the conversation of :func:`completion_request` when none is given
HELLO = ({"role": "user", "content": "Hi ✓"},)
#: a conversation with a system message, an earlier exchange and non-ASCII text (turn 2)
CONVERSATION = (
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Bonjour ✓"},
    {"role": "assistant", "content": "Salut"},
    {"role": "user", "content": "Ça va ? 日本"},
)
#: the seconds of every timeout phase of :func:`completion_request` by default
TIMEOUT = 20.0

T = TypeVar("T")
Hook = Callable[[CompletionRequest, "aiohttp.ClientSession"], AsyncIterator[StreamItem]]


def completion_request(
    base_url: Optional[str] = None,
    messages: Optional[Sequence[Mapping[str, Any]]] = None,
    *,
    provider: str,
    model: str,
    prompt: Optional[str] = None,
    timeout: "Union[Timeout, float, None]" = TIMEOUT,
    options: Optional[Mapping[str, Any]] = None,
    settings: Optional[Mapping[str, Any]] = None,
    **fields: Any,
) -> CompletionRequest:
    """A :class:`~chatplug.CompletionRequest` as the core builds it.

    ``messages`` default to one user message (:data:`HELLO`); ``prompt`` to the core's
    default rendering of them; ``timeout`` (seconds for every phase, or a
    :class:`~chatplug.Timeout`) to 20 s; ``fields`` are the other fields (``proxy``,
    ``tools``, ``temperature``...).
    """
    conversation = tuple(dict(message) for message in (messages or HELLO))
    return CompletionRequest(
        provider=provider,
        model=model,
        messages=conversation,  # type: ignore[arg-type]
        prompt=format_prompt(conversation) if prompt is None else prompt,  # type: ignore[arg-type]
        options=dict(options or {}),
        base_url=base_url,
        timeout=Timeout.coerce(timeout),
        settings=dict(settings or {}),
        **fields,
    )


async def collect_items(
    stream_completion: Hook,
    request: CompletionRequest,
    session: Optional["aiohttp.ClientSession"] = None,
) -> List[StreamItem]:
    """Every item the hook ``stream_completion`` yields for ``request`` (on ``session``, or
    on a session of its own)."""
    if session is not None:
        return [item async for item in stream_completion(request, session)]
    import aiohttp

    async with aiohttp.ClientSession() as own:
        return [item async for item in stream_completion(request, own)]


def parse_chunks(parser: "IncrementalParser", chunks: Iterable[bytes]) -> List[StreamItem]:
    """Every item ``parser`` makes of ``chunks`` (``feed`` each, all of them: what follows
    the end marker is the parser's to ignore), then of its ``close()``."""
    items: List[StreamItem] = []
    for chunk in chunks:
        items += parser.feed(chunk)
    items += parser.close() or ()
    return items


def text_of(items: Iterable[StreamItem]) -> str:
    """The text among stream items (the bare strings), joined."""
    return "".join(item for item in items if isinstance(item, str))


def of_type(items: Iterable[Any], kind: Type[T]) -> List[T]:
    """The items of one type (``of_type(items, ToolCallDelta)``)."""
    return [item for item in items if isinstance(item, kind)]
