"""Fixtures for the logs' tests: a real database file in a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
from chatplug.history import ExchangeRecord, LogStore, Recorder

Log = Callable[..., ExchangeRecord]


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh database path, also set as ``CHATPLUG_LOGS_DB`` (nothing touches the real one)."""
    path = tmp_path / "logs.db"
    monkeypatch.setenv("CHATPLUG_LOGS_DB", str(path))
    return path


@pytest.fixture
def recorder(db_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(db_path, strict=True)
    yield recorder
    recorder.close()


@pytest.fixture
def store(db_path: Path) -> Iterator[LogStore]:
    store = LogStore(db_path)
    yield store
    store.close()


@pytest.fixture
def log(recorder: Recorder) -> Log:
    """``log(prompt_or_messages, answer, error=None, **begin_and_finish)``: one written exchange."""

    def write(
        messages: Any, answer: str = "", error: Optional[BaseException] = None, **kwargs: Any
    ) -> ExchangeRecord:
        facts = {k: kwargs.pop(k) for k in ("usage", "finish_reason", "tool_calls") if k in kwargs}
        record = recorder.begin(messages, **kwargs)
        record.add_text(answer)
        if error is None:
            record.finish(facts)
        else:
            record.fail(error)
        assert recorder.write(record)
        return record

    return write
