"""The UniqueId the chat endpoint wants: fetched from ``getUniqueId``, cached per session."""

from __future__ import annotations

import json
import weakref
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from chatplug import CompletionRequest, StreamProtocolError, open_stream

from .site import (
    OUTDATED,
    PROVIDER,
    UNIQUE_ID_MAX_BYTES,
    UNIQUE_ID_PATH,
    excerpt,
    random_string,
    site_headers,
)

if TYPE_CHECKING:  # pragma: no cover
    import asyncio  # imported where used: ~20 ms of `chatplug models` otherwise

    import aiohttp

__all__ = ["UNIQUE_IDS", "UniqueIdCache", "fetch_unique_id"]


async def fetch_unique_id(
    session: "aiohttp.ClientSession", request: CompletionRequest, base: str
) -> str:
    """GET a new UniqueId (through the request's proxy, with its timeouts)."""
    params = {"canvas": "-" + random_string()}
    headers = site_headers(accept="application/json, text/plain, */*")
    url = base + UNIQUE_ID_PATH
    async with open_stream(
        session, request, "GET", url, headers=headers, params=params
    ) as response:
        raw = bytearray()
        async for chunk in response.content.iter_any():
            raw += chunk
            if len(raw) > UNIQUE_ID_MAX_BYTES:
                raise StreamProtocolError(
                    f"the getUniqueId answer is over {UNIQUE_ID_MAX_BYTES} bytes", provider=PROVIDER
                )
    try:
        document = json.loads(bytes(raw))
    except ValueError:
        document = None
    unique_id = document.get("data") if isinstance(document, dict) else None
    if not isinstance(unique_id, str) or not unique_id.strip():
        raise StreamProtocolError(
            f"getUniqueId answered without a string 'data': {excerpt(bytes(raw))!r}",
            provider=PROVIDER,
            hint=OUTDATED,
        )
    return unique_id


class UniqueIdCache:
    """UniqueIds per (aiohttp session, API base URL); one fetch at a time per key.

    Entries go away with their session (weak keys), so a closed client leaks nothing.
    """

    def __init__(self) -> None:
        self._ids: "weakref.WeakKeyDictionary[Any, Dict[str, str]]" = weakref.WeakKeyDictionary()
        self._locks: "weakref.WeakKeyDictionary[Any, Dict[str, asyncio.Lock]]" = (
            weakref.WeakKeyDictionary()
        )

    def cached(self, session: "aiohttp.ClientSession", base: str) -> Optional[str]:
        return self._ids.get(session, {}).get(base)

    def forget(self, session: "aiohttp.ClientSession", base: Optional[str] = None) -> None:
        """Drop the cached id of ``base`` (every id of the session when ``base`` is None)."""
        if base is None:
            self._ids.pop(session, None)
        else:
            self._ids.get(session, {}).pop(base, None)

    async def get(
        self, session: "aiohttp.ClientSession", request: CompletionRequest, base: str
    ) -> Tuple[str, bool]:
        """The id to use and whether it came from the cache (``False``: just fetched)."""
        unique_id = self.cached(session, base)
        if unique_id is not None:
            return unique_id, True
        async with self._lock(session, base):
            unique_id = self.cached(session, base)
            if unique_id is not None:  # another completion fetched it meanwhile
                return unique_id, True
            unique_id = await fetch_unique_id(session, request, base)
            self._ids.setdefault(session, {})[base] = unique_id
            return unique_id, False

    async def refresh(
        self,
        session: "aiohttp.ClientSession",
        request: CompletionRequest,
        base: str,
        *,
        stale: str,
    ) -> str:
        """A new id replacing ``stale`` (reusing one another completion already fetched)."""
        async with self._lock(session, base):
            current = self.cached(session, base)
            if current is not None and current != stale:
                return current
            self.forget(session, base)
            unique_id = await fetch_unique_id(session, request, base)
            self._ids.setdefault(session, {})[base] = unique_id
            return unique_id

    def _lock(self, session: "aiohttp.ClientSession", base: str) -> asyncio.Lock:
        locks = self._locks.setdefault(session, {})
        lock = locks.get(base)
        if lock is None:
            import asyncio

            lock = locks[base] = asyncio.Lock()
        return lock


#: the process-wide cache used by :func:`stream_completion`
UNIQUE_IDS = UniqueIdCache()
