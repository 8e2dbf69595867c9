"""``cancellation`` and ``idle_timeout``: an answer held back before its last byte."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from ....errors import UpstreamTimeoutError
from ....types import Timeout
from .. import limits
from ..answers import stream_text
from ..relay import Altered, with_altered_stream
from ..subject import SIMPLE, ConformanceFailure, Subject, describe

if TYPE_CHECKING:  # pragma: no cover
    from ...upstream import RecordedRequest, Reply


def _hold_last_byte(request: "RecordedRequest", reply: "Reply") -> "Reply":
    """Send all but the last byte of the emulator's answer, then leave the connection open."""
    from ...upstream import HANG, split_bytes

    data = reply.body
    sent = data[: max(1, len(data) - 1)]
    return reply.but(chunks=split_bytes(sent, (64,)), content_length=len(data), end=HANG)


async def check_cancellation(subject: Subject) -> None:
    what = "stopping after the first piece"

    async def body(run: Altered) -> None:
        stream = run.client.stream(
            list(SIMPLE),
            provider=subject.provider,
            base_url=run.base_url,
            timeout=Timeout(connect=5.0, first_byte=limits.FIRST_PIECE_WAIT, idle=20.0),
        )
        try:
            async with stream:
                async for _ in stream:
                    break
                else:
                    raise ConformanceFailure(f"{what}: the stream ended without any text")
        except ConformanceFailure:
            raise
        except Exception as error:
            raise ConformanceFailure(
                f"{what}: with all but the last byte of the emulator's answer sent (and the "
                f"connection left open), the stream failed with {describe(error)} before its "
                "first piece: the plugin seems to wait for the whole response instead of "
                "yielding text as it arrives"
            ) from None
        stream_connection = run.upstream.requests[-1].connection
        await asyncio.get_running_loop().run_in_executor(
            None, stream_connection.closed.wait, limits.CLOSE_WAIT
        )
        if stream_connection.closed_by != "client":
            raise ConformanceFailure(
                f"{what}: the consumer stopped reading and closed the stream, but the upstream "
                f"connection was still open {limits.CLOSE_WAIT:g}s later: keep the response in "
                "an 'async with' block around the read loop (don't read it all first, don't "
                "catch GeneratorExit) so that closing the generator closes the connection"
            )

    await with_altered_stream(subject, _hold_last_byte, body, what)


async def check_idle_timeout(subject: Subject) -> None:
    what = "a stream that stalls (the rest of the answer held back)"

    async def body(run: Altered) -> None:
        idle = limits.IDLE_TIMEOUT
        timeout = Timeout(connect=5.0, first_byte=limits.FIRST_PIECE_WAIT, idle=idle)
        started = time.monotonic()
        limit = idle + limits.IDLE_SLACK
        try:
            answer = await asyncio.wait_for(
                stream_text(run.client, subject, SIMPLE, base_url=run.base_url, timeout=timeout),
                limit,
            )
        except asyncio.TimeoutError:
            raise ConformanceFailure(
                f"{what}: the idle timeout was {idle:g}s but the stream was still "
                f"waiting {limit:g}s later: pass request.timeout to the request "
                "(timeout=request.timeout.client_timeout(); open_stream does)"
            ) from None
        except UpstreamTimeoutError as error:
            elapsed = time.monotonic() - started
            if error.phase != "idle":
                raise ConformanceFailure(
                    f"{what}: expected an idle timeout, got the {error.phase!r} timeout"
                ) from None
            if elapsed > limit:
                raise ConformanceFailure(
                    f"{what}: the idle timeout was {idle:g}s but the stream failed only "
                    f"after {elapsed:.1f}s: pass request.timeout to the request "
                    "(timeout=request.timeout.client_timeout(); open_stream does)"
                ) from None
            return
        except ConformanceFailure:
            raise
        except Exception as error:
            raise ConformanceFailure(
                f"{what}: expected UpstreamTimeoutError (idle) after {idle:g}s, got "
                f"{describe(error)}"
            ) from None
        raise ConformanceFailure(
            f"{what}: the upstream stalled before its end, but the plugin returned a normal "
            f"answer ({answer[:60]!r}) instead of raising UpstreamTimeoutError"
        )

    await with_altered_stream(subject, _hold_last_byte, body, what)
