"""The client's session pool: one pooled session, one per SOCKS proxy, all closed together."""

from __future__ import annotations

from chatplug._pool import SessionPool
from chatplug.config import Route
from chatplug.types import Timeout


def route(proxy: "str | None") -> Route:
    return Route(base_url=None, proxy=proxy, timeout=Timeout(), options={}, sources={})


async def test_the_pooled_session_is_created_once_and_reused() -> None:
    pool = SessionPool(Timeout())
    try:
        assert pool.session is pool.session
    finally:
        await pool.aclose()


async def test_the_pooled_session_carries_the_client_timeouts_and_connection_limit() -> None:
    pool = SessionPool(Timeout(connect=3, idle=4, total=5), limit=7)
    try:
        session = pool.session
        assert (session.timeout.sock_connect, session.timeout.sock_read) == (3, 4)
        assert session.timeout.total == 5
        assert session.connector is not None and session.connector.limit == 7
    finally:
        await pool.aclose()


async def test_a_closed_pool_opens_a_new_session_on_next_use() -> None:
    pool = SessionPool(Timeout())
    first = pool.session
    await pool.aclose()
    assert first.closed
    second = pool.session
    assert second is not first and not second.closed
    await pool.aclose()


async def test_a_direct_or_http_proxy_route_uses_the_pooled_session() -> None:
    pool = SessionPool(Timeout())
    try:
        assert pool.session_for(route(None)) is pool.session
        assert pool.session_for(route("http://127.0.0.1:3128")) is pool.session
    finally:
        await pool.aclose()


async def test_each_socks_proxy_gets_one_session_of_its_own_closed_with_the_pool() -> None:
    pool = SessionPool(Timeout())
    one = pool.session_for(route("socks5://127.0.0.1:1080"))
    assert pool.session_for(route("socks5://127.0.0.1:1080")) is one
    other = pool.session_for(route("socks5h://127.0.0.1:1081"))
    assert one is not other and one is not pool.session
    await pool.aclose()
    assert one.closed and other.closed
