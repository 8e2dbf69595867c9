"""Logging a client's streams: what ``AsyncClient(log=...)`` does.

:func:`recording` wraps the generator behind a :class:`~chatplug.Stream`: it feeds one
:class:`~chatplug.history.ExchangeRecord` with the text as it passes, and when the stream
ends (completed, failed, or left by its consumer) writes it with what the stream reported
(reasoning, tool calls, usage, finish reason, who answered).  Clients without ``log`` never
come here: their streams run exactly as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping, Optional, Sequence, Union

from ._recorder import Recorder

if TYPE_CHECKING:  # pragma: no cover
    from ..stream import Source, _Progress

#: what ``AsyncClient(log=...)`` accepts: a recorder, ``True`` for one on the default
#: database, or ``None`` / ``False`` for no logging
LogInput = Union[Recorder, bool, None]


class StreamStopped(Exception):
    """What a logged exchange records when its consumer stopped reading before the end."""


def recorder_for(log: LogInput) -> Optional[Recorder]:
    """The recorder ``log`` asks for (``None``: no logging)."""
    if log is None or log is False:
        return None
    if log is True:
        return Recorder()
    if isinstance(log, Recorder):
        return log
    raise TypeError(f"log must be a chatplug.history.Recorder, True or None, not {log!r}")


def recording(
    recorder: Recorder,
    source: "Source",
    messages: Sequence[Mapping[str, Any]],
    options: Mapping[str, Any],
) -> "Source":
    """``source`` (the generator factory of a stream) with each run logged by ``recorder``."""

    def start(progress: "_Progress", events: bool) -> AsyncIterator[Any]:
        return _recorded(source(progress, events), progress, recorder, messages, options)

    return start


async def _recorded(
    inner: AsyncIterator[Any],
    progress: "_Progress",
    recorder: Recorder,
    messages: Sequence[Mapping[str, Any]],
    options: Mapping[str, Any],
) -> AsyncIterator[Any]:
    from ..stream import Stream

    record = recorder.begin(list(messages), options=dict(options))
    facts = Stream()  # a view of what the plugin reported, not the consumer's stream
    facts._progress = progress  # (holding that one would keep it alive: see _Progress)
    add_text, mark = record.add_text, record.mark_first_chunk
    try:
        async for item in inner:
            if item.__class__ is str:
                add_text(item)
            else:
                mark()
            yield item
    except GeneratorExit:
        await inner.aclose()  # type: ignore[attr-defined]
        record.fail(StreamStopped("the caller stopped reading the stream"), facts=facts)
        recorder.write(record)
        raise
    except BaseException as error:
        record.fail(error, facts=facts)
        if isinstance(error, Exception):
            await recorder.write_async(record)
        else:  # cancelled or interrupted: do not wait on a thread
            recorder.write(record)
        raise
    record.finish(facts)
    await recorder.write_async(record)
