"""The user API: :class:`AsyncClient` and its synchronous twin :class:`Client`.

This module is the façade; each concern lives in its own module and every name is
importable from here: the asynchronous client (:mod:`chatplug._async`), the attempt loop
with retries, fallback and the first-byte timer (:mod:`chatplug._attempts`), the stream
rules (:mod:`chatplug._contract`), the request fields (:mod:`chatplug._request`), the HTTP
sessions (:mod:`chatplug._pool`), the streamed answer (:mod:`chatplug.stream`) and the
synchronous wrapper (:mod:`chatplug._sync`).
"""

from __future__ import annotations

from ._async import ORDER_GIVEN, ORDER_HEALTHIEST, AsyncClient, Resolved, TimeoutInput
from ._attempts import RetryInput
from ._sync import Client, SyncStream
from .stream import Completion, Stream

__all__ = [
    "ORDER_GIVEN",
    "ORDER_HEALTHIEST",
    "AsyncClient",
    "Client",
    "Completion",
    "Resolved",
    "RetryInput",
    "Stream",
    "SyncStream",
    "TimeoutInput",
]
