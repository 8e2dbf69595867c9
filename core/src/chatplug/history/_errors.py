"""The logs' one error type."""

from __future__ import annotations

from ..errors import ChatplugError


class LogsError(ChatplugError):
    """The logs database cannot be used: unreadable, newer schema, no such exchange..."""

    exit_code = 16
