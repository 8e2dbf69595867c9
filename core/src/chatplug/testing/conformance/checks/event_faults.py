"""``final_event`` and ``malformed_event``: a well-formed body without its last event, and a
body with one broken event in the middle, are errors — never a complete answer.

Both alter the emulator's own answer at event boundaries (:mod:`..framing`): they apply to
bodies of Server-Sent Events or newline-delimited JSON, not to a plain-text body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, Optional, Tuple

from ....errors import StreamProtocolError
from ..framing import Framing, excerpt, framing_of, malformed_event, without_final_event
from ..relay import Altered, Reference, reference_exchange, with_altered_stream
from ..subject import SIMPLE, ConformanceFailure, NotApplicable, Subject, describe

if TYPE_CHECKING:  # pragma: no cover
    from ....stream import Completion
    from ...upstream import RecordedRequest, Reply

#: ``fault(body, framing)``: the altered body and what was altered, or ``None``
Fault = Callable[[bytes, Framing], Optional[Tuple[bytes, str]]]


async def _framed_reference(subject: Subject, what: str) -> Tuple[Reference, Framing]:
    """The unaltered exchange and the framing of the emulator's body (or not applicable)."""
    reference = await reference_exchange(subject, what)
    content_type = reference.reply.headers.get("Content-Type", "")
    framing = framing_of(reference.reply.body, content_type)
    if framing is None:
        raise NotApplicable(
            f"the emulator's answer ({content_type or 'no content type'}) is neither "
            "Server-Sent Events nor newline-delimited JSON: it has no events to alter"
        )
    if len(framing.carrying) < 2:
        raise NotApplicable(f"the emulator's answer has fewer than two {framing.kind} events")
    return reference, framing


def _summary(completion: "Completion") -> str:
    parts = [f"{len(completion.text)} characters of text"]
    if completion.tool_calls:
        parts.append(f"{len(completion.tool_calls)} tool call(s)")
    parts.append(f"finish reason {completion.finish_reason!r}")
    return ", ".join(parts)


async def _expect_protocol_error(
    subject: Subject, reference: Reference, fault: Fault, framing: Framing, what: str, hint: str
) -> None:
    from ...upstream import LENGTH, split_bytes

    content_type = reference.reply.headers.get("Content-Type", "")
    altered: Dict[str, str] = {}

    def alter(request: "RecordedRequest", reply: "Reply") -> "Reply":
        result = fault(reply.body, framing_of(reply.body, content_type) or framing)
        if result is None:  # the emulator answered differently this time: leave it
            return reply
        data, altered["what"] = result
        chunks = split_bytes(data, (64, 7, 3, 11))
        return reply.but(chunks=chunks, framing=LENGTH, content_length=len(data))

    async def body(run: Altered) -> None:
        try:
            completion = await run.client.respond(
                list(SIMPLE), provider=subject.provider, base_url=run.base_url
            )
        except StreamProtocolError:
            return
        except Exception as error:
            raise ConformanceFailure(
                f"{what} ({altered.get('what', 'not altered')}); expected StreamProtocolError, got "
                f"{describe(error)}. {hint}"
            ) from None
        raise ConformanceFailure(
            f"{what} ({altered.get('what', 'not altered')}): the plugin returned a complete answer "
            f"({_summary(completion)}) instead of raising StreamProtocolError. {hint}"
        )

    await with_altered_stream(subject, alter, body, what, key=reference.key)


async def check_final_event(subject: Subject) -> None:
    what = "the emulator's answer without its final event"
    reference, framing = await _framed_reference(subject, what)
    finish = reference.completion.finish
    if finish is not None and finish.raw is None:
        raise NotApplicable(
            "the plugin reports a finish of its own (Finish without the upstream's raw "
            "value): its upstream has no end-of-answer event, the end of the body ends the "
            "answer"
        )

    def drop(body: bytes, framing: Framing) -> Optional[Tuple[bytes, str]]:
        if len(framing.carrying) < 2:
            return None
        data, event = without_final_event(body, framing)
        return data, f"dropped: {event.excerpt(body)!r}"

    hint = (
        "A body that stops at an event boundary before the protocol's end marker ([DONE], "
        "message_stop, a done record, the finish) was cut short: raise "
        "chatplug.StreamProtocolError when the body ends without it (the parsers of "
        "chatplug.openai_chunks do)."
    )
    await _expect_protocol_error(
        subject,
        reference,
        drop,
        framing,
        f"{what}, a well-formed {framing.kind} body that stops at an event boundary",
        hint,
    )


async def check_malformed_event(subject: Subject) -> None:
    what = "the emulator's answer with one event in the middle made invalid JSON"
    reference, framing = await _framed_reference(subject, what)
    if malformed_event(reference.reply.body, framing) is None:
        raise NotApplicable(
            f"the emulator's {framing.kind} answer has no JSON event before its last one"
        )
    hint = (
        "Never skip what does not parse: parse with chatplug.decoders.parse_json (or "
        "iter_ndjson), which raise StreamProtocolError, and skip only what the protocol "
        "says carries nothing (comments, keep-alives)."
    )

    def corrupt(body: bytes, framing: Framing) -> Optional[Tuple[bytes, str]]:
        result = malformed_event(body, framing)
        if result is None:
            return None
        data, event = result
        return data, f"sent instead of an event: {excerpt(data[event.start : event.end - 1])!r}"

    await _expect_protocol_error(
        subject, reference, corrupt, framing, f"{what} of {framing.kind}", hint
    )
