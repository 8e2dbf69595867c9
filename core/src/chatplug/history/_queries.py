"""Reading the logs: latest exchanges, full-text search, conversations, usage totals.

Functions of an open connection; :class:`~chatplug.history.LogStore` is their public face.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._clock import timestamp
from ._errors import LogsError
from ._exchange import COLUMNS, Exchange, UsageStats, assistant_message

_SELECT = "SELECT " + ", ".join(f"e.{name}" for name in COLUMNS) + " FROM exchanges AS e"


def _where(
    *,
    provider: Optional[str] = None,
    model: Optional[str] = None,
    since: Optional[datetime] = None,
    conversation_id: Optional[str] = None,
    source: Optional[str] = None,
) -> Tuple[List[str], List[Any]]:
    clauses: List[str] = []
    params: List[Any] = []
    for column, value in (
        ("provider", provider),
        ("model", model),
        ("conversation_id", conversation_id),
        ("source", source),
    ):
        if value is not None:
            clauses.append(f"e.{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append("e.created_at >= ?")
        params.append(timestamp(since))
    return clauses, params


def latest(connection: sqlite3.Connection, n: int, **filters: Any) -> List[Exchange]:
    """The ``n`` newest exchanges (by start time) matching ``filters``, newest first."""
    clauses, params = _where(**filters)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = connection.execute(f"{_SELECT}{where} ORDER BY e.id DESC LIMIT ?", (*params, n))
    return [Exchange.from_row(row) for row in rows]


def fts_query(text: str) -> str:
    """``text`` as an FTS5 query: every word must occur; ``word*`` matches a prefix.

    Words are quoted, so ``gpt-4o`` or ``what's`` are searched as written rather than
    read as FTS5 operators.
    """
    terms = []
    for word in text.split():
        prefix = word.endswith("*") and len(word) > 1
        word = word[:-1] if prefix else word
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise LogsError("the search text is empty", hint="Pass a word to search for with -q.")
    return " ".join(terms)


def search(connection: sqlite3.Connection, text: str, n: int, **filters: Any) -> List[Exchange]:
    """Exchanges whose prompt or answer contains every word of ``text``, best match first."""
    clauses, params = _where(**filters)
    where = "".join(f" AND {clause}" for clause in clauses)
    sql = (
        f"{_SELECT} JOIN exchanges_fts AS f ON f.rowid = e.seq"
        f" WHERE exchanges_fts MATCH ?{where} ORDER BY bm25(exchanges_fts), e.id DESC LIMIT ?"
    )
    try:
        rows = connection.execute(sql, (fts_query(text), *params, n)).fetchall()
    except sqlite3.OperationalError as error:  # a query FTS5 cannot parse
        raise LogsError(f"cannot search for {text!r}: {error}") from None
    return [Exchange.from_row(row) for row in rows]


def get(connection: sqlite3.Connection, exchange_id: str) -> Optional[Exchange]:
    row = connection.execute(f"{_SELECT} WHERE e.id = ?", (exchange_id,)).fetchone()
    return None if row is None else Exchange.from_row(row)


def latest_conversation_id(
    connection: sqlite3.Connection, source: Optional[str] = None
) -> Optional[str]:
    clauses, params = _where(source=source)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    row = connection.execute(
        f"SELECT e.conversation_id FROM exchanges AS e{where} ORDER BY e.id DESC LIMIT 1", params
    ).fetchone()
    return None if row is None else str(row[0])


def conversation(connection: sqlite3.Connection, conversation_id: str) -> List[Dict[str, Any]]:
    """The messages that continue a conversation: every turn so far, in order.

    Folds the successful exchanges in order: each one's request was the first
    ``prior_messages`` messages of the history so far plus its own messages, and its
    answer (with its tool calls) follows.  Failed exchanges are left out.
    """
    rows = connection.execute(
        "SELECT prior_messages, messages, answer, tool_calls FROM exchanges"
        " WHERE conversation_id = ? AND error_type IS NULL ORDER BY id",
        (conversation_id,),
    )
    history: List[Dict[str, Any]] = []
    for prior, messages, answer, tool_calls in rows:
        calls = None if tool_calls is None else json.loads(tool_calls)
        history = [*history[:prior], *json.loads(messages), assistant_message(answer, calls)]
    return history


def common_prefix(history: Sequence[Any], messages: Sequence[Any]) -> int:
    """How many leading ``messages`` repeat the history (those are not stored again)."""
    count = 0
    for earlier, message in zip(history, messages):
        if earlier != message:
            break
        count += 1
    return count


def stats(connection: sqlite3.Connection, since: Optional[datetime] = None) -> List[UsageStats]:
    """Usage totals per provider and model since ``since`` (everything by default)."""
    clauses, params = _where(since=since)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = connection.execute(
        "SELECT e.provider, e.model, COUNT(*), COUNT(e.error_type),"
        " TOTAL(e.input_tokens), TOTAL(e.output_tokens), TOTAL(e.cached_tokens),"
        " TOTAL(e.reasoning_tokens),"
        " SUM(e.usage_estimated AND (e.input_tokens IS NOT NULL OR e.output_tokens IS NOT NULL)),"
        " SUM(e.input_tokens IS NULL AND e.output_tokens IS NULL)"
        f" FROM exchanges AS e{where} GROUP BY e.provider, e.model"
        " ORDER BY COUNT(*) DESC, e.provider, e.model",
        params,
    )
    return [
        UsageStats(provider, model, *(int(value) for value in numbers))
        for provider, model, *numbers in rows
    ]
