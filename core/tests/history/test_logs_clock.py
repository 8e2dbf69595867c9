"""Exchange ids and the periods ``--since`` accepts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from chatplug.history import new_id, parse_since

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)


def test_ids_are_unique_and_sort_in_creation_order() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(value) == 26 and value.isalnum() for value in ids)


@pytest.mark.parametrize(
    ("text", "ago"),
    [("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)), ("1d", timedelta(days=1)),
     ("2w", timedelta(weeks=2)), ("45s", timedelta(seconds=45)), ("1.5h", timedelta(minutes=90)),
     (" 3 D ", timedelta(days=3))],
)  # fmt: skip
def test_a_period_counts_back_from_now(text: str, ago: timedelta) -> None:
    assert parse_since(text, now=NOW) == NOW - ago


def test_an_iso_time_with_an_offset_is_honoured() -> None:
    assert parse_since("2024-05-01T10:00:00+02:00") == datetime(2024, 5, 1, 8, tzinfo=timezone.utc)
    assert parse_since("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)


def test_an_iso_date_is_local_midnight() -> None:
    local_midnight = datetime(2024, 5, 1).astimezone()
    assert parse_since("2024-05-01") == local_midnight


@pytest.mark.parametrize("text", ["yesterday", "5", "2x", "", "2024-13-01"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a period"):
        parse_since(text)
