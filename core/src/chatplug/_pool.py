"""The client's HTTP sessions: one pooled aiohttp session, plus one per SOCKS proxy.

aiohttp speaks HTTP proxies per request but SOCKS only through a connector, so a route
through a SOCKS proxy gets a session of its own (created on first use, kept for the
client's life).  Sessions are created inside the running loop, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional

from .config import Route, socks_connector
from .types import Timeout

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp


class SessionPool:
    """The sessions of one client; ``limit`` bounds each session's connections (0: none)."""

    __slots__ = ("_limit", "_session", "_socks", "timeout")

    def __init__(self, timeout: Timeout, limit: int = 0) -> None:
        self.timeout = timeout
        self._limit = limit
        self._session: Optional["aiohttp.ClientSession"] = None
        self._socks: Dict[str, "aiohttp.ClientSession"] = {}

    @property
    def session(self) -> "aiohttp.ClientSession":
        """The pooled session, created on first use (again after it was closed)."""
        if self._session is None or self._session.closed:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                timeout=self.timeout.client_timeout(),
            )
        return self._session

    def session_for(self, route: Route) -> "aiohttp.ClientSession":
        """The pooled session, or for a SOCKS proxy one session per proxy (a connector)."""
        if not route.socks or route.proxy is None:
            return self.session
        session = self._socks.get(route.proxy)
        if session is None or session.closed:
            import aiohttp

            session = aiohttp.ClientSession(
                connector=socks_connector(route.proxy, limit=self._limit),
                timeout=self.timeout.client_timeout(),
            )
            self._socks[route.proxy] = session
        return session

    async def aclose(self) -> None:
        """Close every session (and every connection it holds)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        while self._socks:
            await self._socks.popitem()[1].close()
