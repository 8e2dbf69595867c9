"""Streaming an answer through the plugin and comparing it with the emulator's reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Sequence

from ...errors import UpstreamHTTPError
from .subject import SIMPLE, ConformanceFailure, Subject, describe

if TYPE_CHECKING:  # pragma: no cover
    from ...client import AsyncClient
    from ...stream import Completion


async def stream_text(
    client: "AsyncClient", subject: Subject, messages: Sequence[Dict[str, str]], **kwargs: Any
) -> str:
    """The whole answer to ``messages``; fails when the plugin yields anything but ``str``."""
    pieces = []
    async with client.stream(list(messages), provider=subject.provider, **kwargs) as stream:
        async for piece in stream:
            if not isinstance(piece, str):
                raise ConformanceFailure(
                    f"stream_completion yielded {type(piece).__name__} {piece!r}; "
                    "it must yield str text pieces (decode bytes with chatplug's decoders)"
                )
            pieces.append(piece)
    return "".join(pieces)


async def answer(client: "AsyncClient", subject: Subject, what: str, **kwargs: Any) -> str:
    """The answer to :data:`SIMPLE` (or ``messages=``); a failure explains what went wrong."""
    messages = kwargs.pop("messages", SIMPLE)
    try:
        return await stream_text(client, subject, messages, **kwargs)
    except ConformanceFailure:
        raise
    except Exception as error:
        raise failed_stream(error, what) from None


async def respond(
    client: "AsyncClient", subject: Subject, what: str, **kwargs: Any
) -> "Completion":
    """The whole answer to :data:`SIMPLE` (or ``messages=``) with everything the plugin
    reported (``AsyncClient.respond``); a failure explains what went wrong."""
    messages = kwargs.pop("messages", SIMPLE)
    try:
        return await client.respond(list(messages), provider=subject.provider, **kwargs)
    except Exception as error:
        raise failed_stream(error, what) from None


def compare(answer: str, replies: List[str], what: str) -> None:
    """Fail unless ``answer`` is the emulator's last recorded reply."""
    if not replies:
        raise ConformanceFailure(
            f"{what}: the emulator recorded no reply, so there is nothing to compare the answer "
            f"{answer[:80]!r} with: the emulator must call "
            "chatplug.emulation.record_reply(request, text) with the text it streams"
        )
    expected = replies[-1]
    if answer != expected:
        raise ConformanceFailure(
            f"{what}: the streamed answer differs from the emulator's reply.\n"
            f"  expected: {expected!r}\n  got:      {answer!r}\n" + _difference(expected, answer)
        )


def _difference(expected: str, answer: str) -> str:
    index = next(
        (i for i, (a, b) in enumerate(zip(expected, answer)) if a != b),
        min(len(expected), len(answer)),
    )
    if answer and expected.startswith(answer):
        return f"  the answer stops after {len(answer)} of {len(expected)} characters"
    if expected and answer.startswith(expected):
        return "  the answer has extra text after the reply (was something else yielded?)"
    return (
        f"  first difference at character {index}: expected {expected[index : index + 10]!r}, "
        f"got {answer[index : index + 10]!r} (mis-decoded or mis-parsed stream?)"
    )


def failed_stream(error: BaseException, what: str) -> ConformanceFailure:
    """The failure for a stream that raised ``error`` where an answer was expected."""
    if isinstance(error, UpstreamHTTPError) and 400 <= error.status < 500:
        return ConformanceFailure(
            f"{what}: the emulator rejected the plugin's request with HTTP {error.status}"
            f"{': ' + error.body if error.body else ''} — the request (path, headers or JSON "
            "payload) does not match the upstream's protocol"
        )
    return ConformanceFailure(f"{what}: streaming failed with {describe(error)}")
