"""The schema's forward migrations, from every earlier version to the current one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from chatplug.history import SCHEMA_VERSION, LogsError, LogStore
from chatplug.history._schema import migrate

ID1, ID2, ID3 = (f"01HV00000000000000000000{n:02d}" for n in (1, 2, 3))
DAY1, DAY2 = "2024-05-01T10:00:00.000Z", "2024-05-02T09:00:00.000Z"
V1_ROWS = [
    (ID1, "c1", DAY1, "acme", "m1", "first question", "first answer about parsley", None),
    (ID2, "c1", DAY1, "acme", "m1", "second question", "", "upstream timed out"),
    (ID3, "c2", DAY2, "other", "m2", "unrelated", "reply", None),
]


def _version(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])
    finally:
        connection.close()


@pytest.fixture
def v1_database(tmp_path: Path) -> Path:
    """A database written by the version 1 schema, with rows."""
    path = tmp_path / "v1.db"
    connection = sqlite3.connect(path, isolation_level=None)
    assert migrate(connection, target=1) == 1
    connection.executemany("INSERT INTO exchanges VALUES (?, ?, ?, ?, ?, ?, ?, ?)", V1_ROWS)
    connection.close()
    return path


def test_a_new_database_is_created_at_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with LogStore(path) as store:
        assert store.latest() == []
    assert _version(path) == SCHEMA_VERSION == 2


def test_a_version_1_database_is_migrated_and_keeps_its_rows(v1_database: Path) -> None:
    with LogStore(v1_database) as store:
        rows = {row.id: row for row in store.latest(10)}
    assert _version(v1_database) == SCHEMA_VERSION
    assert set(rows) == {row[0] for row in V1_ROWS}
    first = rows[ID1]
    assert (first.conversation_id, first.created_at) == ("c1", DAY1)
    assert (first.provider, first.model, first.answer) == (
        "acme",
        "m1",
        "first answer about parsley",
    )
    assert first.messages == [{"role": "user", "content": "first question"}]
    assert not first.failed


def test_a_migrated_error_keeps_its_message(v1_database: Path) -> None:
    with LogStore(v1_database) as store:
        failed = store.get(ID2)
    assert failed is not None and failed.failed
    assert failed.error_message == "upstream timed out"


def test_migrated_rows_are_searchable(v1_database: Path) -> None:
    with LogStore(v1_database) as store:
        assert [row.id for row in store.search("parsley")] == [ID1]


def test_a_migrated_conversation_can_be_continued(v1_database: Path) -> None:
    with LogStore(v1_database) as store:
        assert store.conversation("c1") == [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer about parsley"},
        ]


def test_a_database_from_a_newer_chatplug_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with LogStore(path) as store, pytest.raises(LogsError, match="newer"):
        store.latest()
