"""``emulator_answer`` and ``utf8_split``: the plugin streams exactly the emulator's reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from ....errors import StreamProtocolError
from ..answers import answer, compare, failed_stream, stream_text
from ..relay import Altered, with_altered_stream
from ..subject import CONVERSATION, SIMPLE, ConformanceFailure, Subject, describe

if TYPE_CHECKING:  # pragma: no cover
    from ...upstream import RecordedRequest, Reply


async def check_emulator_answer(subject: Subject) -> None:
    from ....emulation import run_emulator

    what = "a conversation streamed through the emulator"
    again = "a second completion on the same client"
    async with run_emulator(subject.app()) as emulator:
        async with subject.client(base_urls={subject.provider: emulator.url}) as client:
            first = await answer(client, subject, what, messages=CONVERSATION)
            if not first:
                raise ConformanceFailure(f"{what} gave an empty answer")
            compare(first, emulator.replies, what)
            try:
                second = await stream_text(client, subject, SIMPLE)
            except ConformanceFailure:
                raise
            except Exception as error:
                raise ConformanceFailure(
                    f"{again} failed with {describe(error)}: every request of a client must "
                    "work, whatever the first one left behind (cached tokens, state, the "
                    "core's shared session, which the plugin must never close)"
                ) from None
            compare(second, emulator.replies, again)


async def check_utf8_split(subject: Subject) -> None:
    from ...upstream import split_utf8

    what = "the emulator's answer with every UTF-8 character split across two chunks"
    state: Dict[str, Any] = {}

    def alter(request: "RecordedRequest", reply: "Reply") -> "Reply":
        state["body"] = reply.body
        return reply.but(chunks=split_utf8(reply.body), delay=0.004)

    async def body(run: Altered) -> None:
        try:
            text = await stream_text(run.client, subject, SIMPLE, base_url=run.base_url)
        except ConformanceFailure:
            raise
        except StreamProtocolError as error:
            raise ConformanceFailure(
                f"{what} failed with {describe(error)}: decode the byte stream incrementally "
                "(chatplug.decoders: Utf8Decoder, iter_text, iter_lines, iter_sse, iter_ndjson), "
                "never chunk by chunk with bytes.decode()"
            ) from None
        except Exception as error:
            raise failed_stream(error, what) from None
        if not any(ord(ch) > 127 for ch in "".join(run.emulator.replies)):
            raise ConformanceFailure(
                "the emulator's reply is ASCII only, so UTF-8 split safety cannot be checked: "
                "make the emulator's reply contain non-ASCII characters (e.g. '✓')"
            )
        compare(text, run.emulator.replies, what)

    await with_altered_stream(subject, alter, body, what)
