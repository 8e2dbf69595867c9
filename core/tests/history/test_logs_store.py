"""The logs database file: where it is, concurrent writers, WAL, the on/off switch."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import sys
from pathlib import Path
from typing import Any, List

import pytest
from chatplug.history import LogsError, LogStore, Recorder, logs_path

from .conftest import Log

WRITERS = 4
EXCHANGES = 200

needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)


def _write_many(path: str, writer: int, barrier: Any) -> None:
    """One writer process: its own recorder, strict, 200 exchanges as fast as it can."""
    recorder = Recorder(path, strict=True)
    barrier.wait()
    for index in range(EXCHANGES):
        record = recorder.begin(f"writer {writer} prompt {index}", provider="p", model="m")
        record.add_text(f"answer {writer}-{index}")
        record.finish()
        recorder.write(record)
    recorder.close()


@needs_fork
@pytest.mark.slow
def test_four_processes_writing_at_once_lose_no_exchange_and_never_fail(db_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WRITERS)
    processes = [
        context.Process(target=_write_many, args=(str(db_path), writer, barrier))
        for writer in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * WRITERS
    with LogStore(db_path) as store:
        rows = store.latest(WRITERS * EXCHANGES + 10)
    assert len(rows) == WRITERS * EXCHANGES
    assert len({row.id for row in rows}) == WRITERS * EXCHANGES
    for writer in range(WRITERS):
        answers = {row.answer for row in rows if row.answer.startswith(f"answer {writer}-")}
        assert len(answers) == EXCHANGES


async def test_concurrent_records_in_one_event_loop_are_all_written(
    recorder: Recorder, store: LogStore
) -> None:
    async def one(index: int) -> None:
        async with recorder.record(f"prompt {index}") as exchange:
            await asyncio.sleep(0)
            exchange.add_text(f"answer {index}")

    await asyncio.gather(*(one(index) for index in range(50)))
    assert sorted(row.answer for row in store.latest(100)) == sorted(
        f"answer {index}" for index in range(50)
    )


@needs_fork
def test_a_store_used_in_a_forked_child_opens_its_own_connection(
    recorder: Recorder, log: Log, db_path: Path
) -> None:
    log("before the fork", "parent")  # the parent's connection is open now
    child = multiprocessing.get_context("fork").Process(target=_log_in_child, args=(recorder,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    log("after the fork", "parent again")
    with LogStore(db_path) as store:
        assert [row.answer for row in store.latest()] == ["parent again", "child", "parent"]


def _log_in_child(recorder: Recorder) -> None:
    record = recorder.begin("in the child")
    record.add_text("child")
    recorder.write(record)


def test_the_database_is_in_wal_mode(log: Log, db_path: Path) -> None:
    log("hello", "hi")
    connection = sqlite3.connect(db_path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_the_environment_variable_chooses_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATPLUG_LOGS_DB", str(tmp_path / "elsewhere.db"))
    assert logs_path() == tmp_path / "elsewhere.db"
    assert LogStore().path == tmp_path / "elsewhere.db"


def test_without_the_variable_the_database_is_in_the_user_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platformdirs

    monkeypatch.delenv("CHATPLUG_LOGS_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    expected = Path(platformdirs.user_data_dir("chatplug")) / "logs.db"
    assert logs_path() == expected
    if sys.platform.startswith("linux"):
        assert expected == tmp_path / "data" / "chatplug" / "logs.db"


def test_the_parent_directories_are_created_on_first_write(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "logs.db"
    recorder = Recorder(path, strict=True)
    assert recorder.write(recorder.begin("hi").finish(text="hello"))
    recorder.close()
    assert path.is_file()


def test_logging_is_on_by_default_and_the_switch_persists(db_path: Path) -> None:
    with LogStore(db_path) as store:
        assert store.enabled
        store.set_enabled(False)
    with LogStore(db_path) as store:
        assert not store.enabled
        store.set_enabled(True)
    with LogStore(db_path) as store:
        assert store.enabled


def test_a_file_that_is_not_a_database_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    path.write_bytes(b"this is not sqlite " * 100)
    with LogStore(path) as store, pytest.raises(LogsError, match=str(path)):
        store.latest()


def test_a_failed_write_is_a_warning_and_returns_false(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(tmp_path)  # a directory: it cannot be opened as a database
    assert recorder.write(recorder.begin("hi").finish(text="hello")) is False
    assert "could not write to the logs database" in caplog.text


def test_a_strict_recorder_raises_when_it_cannot_write(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, strict=True)
    with pytest.raises(LogsError):
        recorder.write(recorder.begin("hi").finish(text="hello"))


def test_a_failed_write_does_not_break_the_recorded_block(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    seen: List[str] = []

    async def main() -> None:
        async with recorder.record("hi") as exchange:
            exchange.add_text("hello")
            seen.append(exchange.text)

    asyncio.run(main())
    assert seen == ["hello"]
