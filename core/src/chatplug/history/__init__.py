"""The logs: every exchange kept in a SQLite database, searchable and continuable.

``chatplug logs`` reads them; library users opt in with a :class:`Recorder`::

    from chatplug.history import Recorder

    recorder = Recorder()  # the default database, see logs_path()
    async with recorder.record(messages, provider="openai", model="gpt-4o-mini") as exchange:
        async for text in client.stream(messages, model="openai/gpt-4o-mini"):
            exchange.add_text(text)
            print(text, end="")

:class:`LogStore` reads (and writes) one database.  See docs/logs.md for the schema.
"""

from __future__ import annotations

from ._clock import new_id, parse_since
from ._errors import LogsError
from ._exchange import Exchange, UsageStats
from ._recorder import ExchangeRecord, Recorder
from ._schema import SCHEMA_VERSION
from ._store import LOGS_DB_ENV, LogStore, logs_path

__all__ = [
    "LOGS_DB_ENV",
    "SCHEMA_VERSION",
    "Exchange",
    "ExchangeRecord",
    "LogStore",
    "LogsError",
    "Recorder",
    "UsageStats",
    "logs_path",
    "new_id",
    "parse_since",
]
