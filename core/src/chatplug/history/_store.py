"""The logs database: where it is, opening it (WAL, busy timeout, migrations), writing.

One :class:`LogStore` holds one SQLite connection, used by one thread at a time (a lock)
and reopened after a fork.  Every write is one short ``BEGIN IMMEDIATE`` transaction:
with WAL and a busy timeout, writers in other threads and processes wait their turn
instead of failing with "database is locked", and readers never wait.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, TypeVar, Union

from . import _queries
from ._errors import LogsError
from ._exchange import COLUMNS, Exchange, UsageStats
from ._sanitize import clean_messages, prompt_text
from ._schema import migrate

if TYPE_CHECKING:  # pragma: no cover
    from ._recorder import ExchangeRecord

T = TypeVar("T")
PathLike = Union[str, "os.PathLike[str]"]

LOGS_DB_ENV = "CHATPLUG_LOGS_DB"
FILENAME = "logs.db"
#: seconds a writer waits for another one to finish before giving up
BUSY_TIMEOUT = 30.0
_ENABLED = "logging"

_INSERT = (
    f"INSERT INTO exchanges ({', '.join(COLUMNS)})"
    f" VALUES ({', '.join(':' + name for name in COLUMNS)})"
)


def logs_path() -> Path:
    """The logs database: ``$CHATPLUG_LOGS_DB``, else ``logs.db`` in the user data directory.

    (``platformdirs.user_data_dir("chatplug")``: ``~/.local/share/chatplug`` on Linux.)
    Nothing is created here.
    """
    override = os.environ.get(LOGS_DB_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("chatplug")) / FILENAME


class LogStore:
    """The logs database at ``path`` (default :func:`logs_path`), opened on first use.

    Thread-safe; safe to share between threads, and usable again in a forked child (which
    opens its own connection).  ``timeout`` is how long a write waits for other writers.
    """

    def __init__(self, path: Optional[PathLike] = None, *, timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path) if path is not None else logs_path()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._connection: Optional[sqlite3.Connection] = None
        self._pid = 0

    def __enter__(self) -> "LogStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    def _connect(self) -> sqlite3.Connection:
        """The open connection (the caller holds the lock); opened and migrated if needed."""
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                str(self.path), timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise LogsError(f"cannot open the logs database {self.path}: {error}") from None
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            migrate(connection)
        except sqlite3.Error as error:
            connection.close()
            raise LogsError(f"cannot use the logs database {self.path}: {error}") from None
        except BaseException:
            connection.close()
            raise
        self._connection, self._pid = connection, os.getpid()
        return connection

    def _read(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return function(self._connect(), *args, **kwargs)

    def _write(self, sql: str, params: Any) -> None:
        """One statement in its own ``BEGIN IMMEDIATE`` transaction (the caller holds the lock)."""
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(sql, params)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    # writing ----------------------------------------------------------------------------

    def write(self, record: "ExchangeRecord") -> str:
        """Store one exchange; returns its id.

        The request's leading messages that repeat the conversation's logged history are
        not stored again (``prior_messages`` counts them).
        """
        row: Dict[str, Any] = record.row()
        messages = clean_messages(record.messages)
        with self._lock:
            history = _queries.conversation(self._connect(), record.conversation_id)
            prior = _queries.common_prefix(history, messages)
            added = messages[prior:]
            row["prior_messages"] = prior
            row["messages"] = json.dumps(added, ensure_ascii=False)
            row["prompt"] = prompt_text(added)
            self._write(_INSERT, row)
        return str(row["id"])

    @property
    def enabled(self) -> bool:
        """The on/off switch (``chatplug logs on`` / ``off``); on unless switched off."""
        row = self._read(
            lambda c: c.execute("SELECT value FROM settings WHERE name = ?", (_ENABLED,)).fetchone()
        )
        return row is None or row[0] != "off"

    def set_enabled(self, enabled: bool) -> None:
        with self._lock:
            self._write(
                "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)",
                (_ENABLED, "on" if enabled else "off"),
            )

    # reading ----------------------------------------------------------------------------

    def latest(
        self,
        n: int = 20,
        *,
        provider: Optional[str] = None,
        model: Optional[str] = None,
        since: Optional[datetime] = None,
        conversation_id: Optional[str] = None,
        source: Optional[str] = None,
    ) -> List[Exchange]:
        """The ``n`` newest exchanges (by start time), newest first, filtered."""
        return self._read(
            _queries.latest,
            n,
            provider=provider,
            model=model,
            since=since,
            conversation_id=conversation_id,
            source=source,
        )

    def search(
        self,
        text: str,
        n: int = 20,
        *,
        provider: Optional[str] = None,
        model: Optional[str] = None,
        since: Optional[datetime] = None,
        conversation_id: Optional[str] = None,
        source: Optional[str] = None,
    ) -> List[Exchange]:
        """Full-text search of prompts and answers (every word; ``word*`` a prefix),
        best match (bm25) first."""
        return self._read(
            _queries.search,
            text,
            n,
            provider=provider,
            model=model,
            since=since,
            conversation_id=conversation_id,
            source=source,
        )

    def get(self, exchange_id: str) -> Optional[Exchange]:
        return self._read(_queries.get, exchange_id)

    def latest_conversation_id(self, source: Optional[str] = None) -> Optional[str]:
        """The conversation of the newest exchange (from ``source`` only, if given)."""
        return self._read(_queries.latest_conversation_id, source)

    def conversation(self, conversation_id: str) -> List[Dict[str, Any]]:
        """The messages to send to continue a conversation (its turns so far, in order).

        User (and system) messages as logged, each answer as an assistant message with
        its tool calls; failed exchanges are left out.  Images come back as their
        ``image_ref`` parts: the logs do not keep image data.
        """
        return self._read(_queries.conversation, conversation_id)

    def stats(self, since: Optional[datetime] = None) -> List[UsageStats]:
        """Usage per provider and model since ``since``, busiest first."""
        return self._read(_queries.stats, since)
