"""Time for the logs: sortable exchange ids, UTC timestamps, and ``--since`` periods."""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Optional, Tuple

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last: Tuple[int, int] = (0, 0)


def new_id() -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits, Crockford base32.

    Ids sort by creation time across processes (to the millisecond); within one process
    they are strictly increasing even within one millisecond.
    """
    global _last
    millis = time.time_ns() // 1_000_000
    with _lock:
        last_millis, last_random = _last
        if millis <= last_millis and last_random + 1 < 1 << _RANDOM_BITS:
            millis, random = last_millis, last_random + 1
        else:
            random = int.from_bytes(os.urandom(10), "big")
        _last = (millis, random)
    value = (millis << _RANDOM_BITS) | random
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def timestamp(moment: Optional[datetime] = None) -> str:
    """``moment`` (default: now) as stored: UTC ISO 8601 to the millisecond, ``...Z``.

    Every stored timestamp has this one shape, so they compare as strings.
    """
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)


def parse_since(text: str, *, now: Optional[datetime] = None) -> datetime:
    """The start of a period: ``30m``, ``2h``, ``1d``, ``2w`` ago, or an ISO date/time.

    A date or time without an offset is local time; ``Z`` or ``+02:00`` are honoured.
    Raises :class:`ValueError` for anything else.
    """
    match = _RELATIVE.match(text)
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
        return (now or datetime.now(timezone.utc)) - timedelta(seconds=seconds)
    iso = text.strip()
    if iso[-1:] in ("z", "Z"):
        iso = iso[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a period (30m, 2h, 1d, 2w) or an ISO date (2024-05-01)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time
    return moment.astimezone(timezone.utc)
