"""The logs database's schema and its forward migrations (``PRAGMA user_version``).

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``; a new database runs
them all.  Each step runs in its own ``BEGIN IMMEDIATE`` transaction and re-reads the
version inside it, so processes that open the same new file at once migrate it once.
A schema change adds a step here (never edits a released one) and a test that migrates a
database built with the previous version.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Callable, Optional, Tuple

from ._errors import LogsError

#: version 1: the first, smaller schema (one prompt and one answer per exchange)
_V1 = """
CREATE TABLE exchanges (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    provider TEXT,
    model TEXT,
    prompt TEXT NOT NULL,
    answer TEXT NOT NULL,
    error TEXT
);
CREATE INDEX exchanges_conversation ON exchanges (conversation_id);
"""

#: version 2: everything an exchange holds, full-text search, settings
_V2 = """
CREATE TABLE exchanges (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'api',
    key_name TEXT,
    provider TEXT,
    model TEXT,
    prior_messages INTEGER NOT NULL DEFAULT 0,
    messages TEXT NOT NULL DEFAULT '[]',
    prompt TEXT NOT NULL DEFAULT '',
    options TEXT NOT NULL DEFAULT '{}',
    answer TEXT NOT NULL DEFAULT '',
    reasoning TEXT,
    tool_calls TEXT,
    finish_reason TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cached_tokens INTEGER,
    reasoning_tokens INTEGER,
    usage_estimated INTEGER NOT NULL DEFAULT 0,
    first_chunk_ms INTEGER,
    total_ms INTEGER,
    error_type TEXT,
    error_message TEXT
);
CREATE INDEX exchanges_conversation ON exchanges (conversation_id, id);
CREATE INDEX exchanges_created ON exchanges (created_at);
CREATE INDEX exchanges_model ON exchanges (provider, model);
CREATE VIRTUAL TABLE exchanges_fts USING fts5 (
    prompt, answer, content='exchanges', content_rowid='seq'
);
CREATE TRIGGER exchanges_fts_insert AFTER INSERT ON exchanges BEGIN
    INSERT INTO exchanges_fts (rowid, prompt, answer) VALUES (new.seq, new.prompt, new.answer);
END;
CREATE TRIGGER exchanges_fts_delete AFTER DELETE ON exchanges BEGIN
    INSERT INTO exchanges_fts (exchanges_fts, rowid, prompt, answer)
    VALUES ('delete', old.seq, old.prompt, old.answer);
END;
CREATE TRIGGER exchanges_fts_update AFTER UPDATE OF prompt, answer ON exchanges BEGIN
    INSERT INTO exchanges_fts (exchanges_fts, rowid, prompt, answer)
    VALUES ('delete', old.seq, old.prompt, old.answer);
    INSERT INTO exchanges_fts (rowid, prompt, answer) VALUES (new.seq, new.prompt, new.answer);
END;
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def _create_v1(connection: sqlite3.Connection) -> None:
    _script(connection, _V1)


def _v1_to_v2(connection: sqlite3.Connection) -> None:
    """Rebuild ``exchanges`` with the full columns; v1 rows keep id, text and error."""
    connection.execute("ALTER TABLE exchanges RENAME TO exchanges_v1")
    connection.execute("DROP INDEX exchanges_conversation")
    _script(connection, _V2)
    rows = connection.execute(
        "SELECT id, conversation_id, created_at, provider, model, prompt, answer, error"
        " FROM exchanges_v1 ORDER BY created_at, id"
    ).fetchall()
    connection.executemany(
        "INSERT INTO exchanges (id, conversation_id, created_at, source, provider, model,"
        " messages, prompt, answer, error_type, error_message)"
        " VALUES (?, ?, ?, 'cli', ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                id_,
                cid,
                created,
                provider,
                model,
                json.dumps([{"role": "user", "content": prompt}], ensure_ascii=False),
                prompt,
                answer,
                None if error is None else "Error",
                error,
            )
            for id_, cid, created, provider, model, prompt, answer, error in rows
        ],
    )
    connection.execute("DROP TABLE exchanges_v1")


MIGRATIONS: Tuple[Callable[[sqlite3.Connection], None], ...] = (_create_v1, _v1_to_v2)
SCHEMA_VERSION = len(MIGRATIONS)


def _script(connection: sqlite3.Connection, script: str) -> None:
    """Run ``script`` statement by statement (``executescript`` would commit first)."""
    statement = ""
    for line in script.strip().splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            connection.execute(statement)
            statement = ""


def version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection, target: Optional[int] = None) -> int:
    """Bring the database up to ``target`` (default: the current version); return it.

    ``connection`` must be in autocommit mode (``isolation_level=None``).  Raises
    :class:`LogsError` for a database written by a newer chatplug.
    """
    target = SCHEMA_VERSION if target is None else target
    current = version(connection)
    while current < target:
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = version(connection)  # another process may have migrated meanwhile
            if current < target:
                MIGRATIONS[current](connection)
                current += 1
                connection.execute(f"PRAGMA user_version = {current}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    if current > SCHEMA_VERSION:
        raise LogsError(
            f"the logs database has schema version {current}, newer than this chatplug's "
            f"({SCHEMA_VERSION})",
            hint="Upgrade chatplug, or point CHATPLUG_LOGS_DB at another file.",
        )
    return current
