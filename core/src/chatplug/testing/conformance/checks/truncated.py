"""``truncated``: a stream cut off halfway is an error, never a complete answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Tuple, Type

from ....errors import StreamProtocolError, UpstreamConnectionError
from ..answers import stream_text
from ..relay import Altered, with_altered_stream
from ..subject import SIMPLE, ConformanceFailure, Subject, describe

if TYPE_CHECKING:  # pragma: no cover
    from ...upstream import RecordedRequest, Reply


def _cut_point(data: bytes) -> int:
    """A cut near the middle of ``data``, inside a multi-byte UTF-8 character if there is one.

    Cutting inside a character makes the truncation detectable whatever the protocol:
    an incremental UTF-8 decoder reports it at the end of the stream, and so do line,
    event and JSON decoders (the cut is inside a line, event or object).
    """
    middle = max(1, len(data) // 2)
    starts = [i for i, byte in enumerate(data) if byte >= 0xC0 and i + 1 < len(data)]
    if not starts:
        return middle
    return min(starts, key=lambda i: abs(i - middle)) + 1


async def check_truncated(subject: Subject) -> None:
    from ...upstream import CLOSE, LENGTH, split_bytes

    for variant in ("ends early", "connection drops"):
        what = f"a response cut off halfway ({variant})"
        sizes: Dict[str, int] = {}

        def alter(
            request: "RecordedRequest",
            reply: "Reply",
            variant: str = variant,
            sizes: Dict[str, int] = sizes,
        ) -> "Reply":
            data = reply.body
            cut = _cut_point(data)
            sizes.update(total=len(data), sent=cut)
            chunks = split_bytes(data[:cut], (7, 3, 11, 5))
            if variant == "ends early":  # a complete HTTP response whose stream stops short
                return reply.but(chunks=chunks, framing=LENGTH, content_length=cut)
            return reply.but(chunks=chunks, content_length=len(data), end=CLOSE)

        async def body(
            run: Altered,
            variant: str = variant,
            what: str = what,
            sizes: Dict[str, int] = sizes,
        ) -> None:
            cut = f"after {sizes.get('sent', '?')} of {sizes.get('total', '?')} bytes"
            expected: Tuple[Type[BaseException], ...] = (StreamProtocolError,)
            if variant != "ends early":
                expected = (StreamProtocolError, UpstreamConnectionError)
            names = " or ".join(kind.__name__ for kind in expected)
            try:
                answer = await stream_text(run.client, subject, SIMPLE, base_url=run.base_url)
            except expected:
                return
            except ConformanceFailure:
                raise
            except Exception as error:
                raise ConformanceFailure(
                    f"{what}: the upstream's stream stopped {cut}; expected {names}, "
                    f"got {describe(error)}"
                ) from None
            hint = (
                "the stream stopped inside a UTF-8 character, which an incremental decoder "
                "reports at its close(): call the decoders' close() (iter_text, iter_lines, "
                "iter_sse and iter_ndjson do) and check the protocol's end marker"
                if variant == "ends early"
                else "don't catch exceptions around the read loop"
            )
            raise ConformanceFailure(
                f"{what}: the upstream's stream stopped {cut}, but the plugin returned a "
                f"normal answer ({answer[:60]!r}, {len(answer)} characters) instead of raising "
                f"{names}: {hint}"
            )

        await with_altered_stream(subject, alter, body, what)
