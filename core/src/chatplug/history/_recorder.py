"""Capturing exchanges as they stream: :class:`ExchangeRecord` and :class:`Recorder`.

The consumer of a stream begins a record, feeds it what arrives, ends it with
:meth:`ExchangeRecord.finish` or :meth:`ExchangeRecord.fail`, and the recorder writes it
as one row.  Feeding a record is cheap (a list append); the database is touched once,
at the end, and from a worker thread when called from async code.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

from ._clock import new_id, timestamp
from ._sanitize import field_of, jsonable, mask_secrets, tool_call
from ._store import LogStore, PathLike

logger = logging.getLogger("chatplug.history")

_USAGE_NAMES = {
    "input_tokens": ("input_tokens", "input", "prompt_tokens"),
    "output_tokens": ("output_tokens", "output", "completion_tokens"),
    "cached_tokens": ("cached_tokens", "cached_input_tokens", "cached_input", "cached"),
    "reasoning_tokens": ("reasoning_tokens",),
}


def _milliseconds_since(start: float) -> int:
    return round((time.monotonic() - start) * 1000)


class ExchangeRecord:
    """One exchange being captured; :meth:`Recorder.write` stores it as one row.

    Set or feed while the answer streams: :meth:`add_text`, :meth:`add_reasoning` (both
    note the first chunk's time), :meth:`mark_first_chunk`, the attributes ``provider`` and
    ``model`` (who answered, once known), ``tool_calls``, ``finish_reason`` and the usage
    fields (or :meth:`set_usage`).  End with :meth:`finish` or :meth:`fail`.
    """

    def __init__(
        self,
        messages: Any,
        *,
        conversation_id: Optional[str] = None,
        provider: Optional[str] = None,
        model: Optional[str] = None,
        options: Optional[Any] = None,
        source: str = "api",
        key_name: Optional[str] = None,
    ) -> None:
        self.id = new_id()
        self.conversation_id = conversation_id or new_id()
        self.created_at = timestamp()
        self.messages = messages
        self.options = options
        self.provider = provider
        self.model = model
        self.source = source
        self.key_name = key_name
        self.tool_calls: Optional[List[Any]] = None
        self.finish_reason: Optional[str] = None
        self.input_tokens: Optional[int] = None
        self.output_tokens: Optional[int] = None
        self.cached_tokens: Optional[int] = None
        self.reasoning_tokens: Optional[int] = None
        self.usage_estimated = False
        self.first_chunk_ms: Optional[int] = None
        self.total_ms: Optional[int] = None
        self.error_type: Optional[str] = None
        self.error_message: Optional[str] = None
        self.done = False
        self._text: List[str] = []
        self._reasoning: List[str] = []
        self._started = time.monotonic()

    @property
    def text(self) -> str:
        """The answer's text so far."""
        return "".join(self._text)

    @property
    def reasoning(self) -> Optional[str]:
        return "".join(self._reasoning) if self._reasoning else None

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    def mark_first_chunk(self) -> None:
        """Note that the first chunk (text, reasoning or a tool call) arrived now."""
        if self.first_chunk_ms is None:
            self.first_chunk_ms = _milliseconds_since(self._started)

    def add_text(self, piece: str) -> None:
        if self.first_chunk_ms is None:
            self.mark_first_chunk()
        self._text.append(piece)

    def add_reasoning(self, piece: str) -> None:
        if self.first_chunk_ms is None:
            self.mark_first_chunk()
        self._reasoning.append(piece)

    def set_usage(self, usage: Any, *, estimated: Optional[bool] = None) -> None:
        """Token counts from a mapping or object (``input_tokens``/``prompt_tokens``,
        ``output_tokens``/``completion_tokens``, ``cached_tokens``, ``reasoning_tokens``,
        ``estimated``); counts it lacks stay as they were."""
        for column, names in _USAGE_NAMES.items():
            value = field_of(usage, *names)
            if value is not None:
                setattr(self, column, int(value))
        flag = field_of(usage, "estimated") if estimated is None else estimated
        if flag is not None:
            self.usage_estimated = bool(flag)

    def _take(self, facts: Any, **given: Any) -> None:
        """What ``facts`` (a stream or a mapping) reports, overridden by ``given``."""
        for name in (
            "provider",
            "model",
            "text",
            "reasoning",
            "tool_calls",
            "usage",
            "finish_reason",
        ):
            value = given.get(name)
            if value is None and facts is not None:
                value = field_of(facts, name)
            if value is None or callable(value):  # unknown, or a method of the same name
                continue
            if name == "text":
                self._text = [str(value)]
            elif name == "reasoning":
                self._reasoning = [str(value)] if value else []
            elif name == "usage":
                self.set_usage(value)
            elif name == "tool_calls":
                self.tool_calls = list(value) or None
            elif name == "finish_reason":
                self.finish_reason = str(jsonable(value))
            else:
                setattr(self, name, str(value))

    def finish(
        self,
        facts: Any = None,
        *,
        text: Optional[str] = None,
        reasoning: Optional[str] = None,
        tool_calls: Optional[List[Any]] = None,
        usage: Any = None,
        finish_reason: Optional[str] = None,
    ) -> "ExchangeRecord":
        """End the exchange as a success.

        ``facts`` is anything with any of ``provider``, ``model``, ``text``, ``reasoning``,
        ``tool_calls``, ``usage``, ``finish_reason`` as attributes or keys (the stream
        itself); the keyword arguments win over it.  Unknown facts stay unknown.
        """
        self._take(
            facts,
            text=text,
            reasoning=reasoning,
            tool_calls=tool_calls,
            usage=usage,
            finish_reason=finish_reason,
        )
        self._end()
        return self

    def fail(
        self, error: BaseException, partial: Optional[str] = None, *, facts: Any = None
    ) -> "ExchangeRecord":
        """End the exchange as a failure; ``partial`` (default: the text fed so far) is kept."""
        self._take(facts, text=partial)
        self.error_type = type(error).__name__
        self.error_message = str(error)
        self._end()
        return self

    def _end(self) -> None:
        self.total_ms = _milliseconds_since(self._started)
        self.done = True

    def row(self) -> Dict[str, Any]:
        """The stored columns, but for the messages (the store works those out)."""
        calls = [tool_call(call) for call in self.tool_calls] if self.tool_calls else None
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "created_at": self.created_at,
            "source": self.source,
            "key_name": self.key_name,
            "provider": self.provider,
            "model": self.model,
            "options": _json(mask_secrets(self.options or {})),
            "answer": self.text,
            "reasoning": self.reasoning,
            "tool_calls": None if calls is None else _json(calls),
            "finish_reason": self.finish_reason,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "usage_estimated": int(self.usage_estimated),
            "first_chunk_ms": self.first_chunk_ms,
            "total_ms": self.total_ms,
            "error_type": self.error_type,
            "error_message": self.error_message,
        }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class Recorder:
    """Logs exchanges to a logs database (default: :func:`~chatplug.history.logs_path`).

    The opt-in for library users: nothing is logged unless a recorder is used.
    ``source`` labels what it records (``"api"``, ``"cli"``, ``"serve"``).  A failed write
    is logged as a warning on the ``chatplug.history`` logger and the answer goes on;
    ``strict=True`` raises instead.  The database is opened on the first write.
    """

    def __init__(
        self, path: Optional[PathLike] = None, *, source: str = "api", strict: bool = False
    ) -> None:
        self.store = LogStore(path)
        self.source = source
        self.strict = strict

    @property
    def path(self) -> Path:
        return self.store.path

    def close(self) -> None:
        self.store.close()

    def begin(
        self,
        messages: Any,
        *,
        conversation_id: Optional[str] = None,
        provider: Optional[str] = None,
        model: Optional[str] = None,
        options: Optional[Any] = None,
        source: Optional[str] = None,
        key_name: Optional[str] = None,
    ) -> ExchangeRecord:
        """Start recording one exchange (no I/O): the clock for its timings starts now.

        ``messages`` are the request's messages (a string is one user message); pass the
        ``conversation_id`` to add to a conversation, else the exchange starts a new one.
        """
        return ExchangeRecord(
            messages,
            conversation_id=conversation_id,
            provider=provider,
            model=model,
            options=options,
            source=source or self.source,
            key_name=key_name,
        )

    def write(self, record: ExchangeRecord) -> bool:
        """Store ``record`` (blocking); one that was not ended is ended as it stands.

        Returns whether it was written.
        """
        if not record.done:
            record.finish()
        try:
            self.store.write(record)
        except Exception as error:  # sqlite3.Error, LogsError, OSError...
            if self.strict:
                raise
            logger.warning("could not write to the logs database %s: %s", self.store.path, error)
            return False
        return True

    async def write_async(self, record: ExchangeRecord) -> bool:
        """:meth:`write` in a worker thread, so that the event loop never waits on the disk."""
        return await asyncio.get_running_loop().run_in_executor(None, self.write, record)

    @asynccontextmanager
    async def record(self, messages: Any, **details: Any) -> AsyncIterator[ExchangeRecord]:
        """``async with recorder.record(messages, ...) as exchange:`` — one row, always.

        ``details`` are :meth:`begin`'s keyword arguments.  Feed ``exchange`` inside the
        block.  Leaving it normally finishes the exchange (unless already ended); an
        exception fails it with the text fed so far as the partial answer, is re-raised,
        and the row is written either way.
        """
        exchange = self.begin(messages, **details)
        try:
            yield exchange
        except BaseException as error:
            if not exchange.done:
                exchange.fail(error)
            if isinstance(error, Exception):
                await self.write_async(exchange)
            else:  # cancelled or interrupted: do not wait on anything
                self.write(exchange)
            raise
        await self.write_async(exchange)
