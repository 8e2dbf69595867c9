"""How transport failures map onto typed errors (:mod:`chatplug.http`), and timeouts.

The end-to-end behaviour against scripted upstreams is in ``tests/faults``.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from chatplug import (
    CompletionRequest,
    RateLimitedError,
    StreamProtocolError,
    Timeout,
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from chatplug.http import map_transport_error, parse_retry_after, site_headers

REQUEST = CompletionRequest(
    provider="acme",
    model="m",
    messages=({"role": "user", "content": "hi"},),
    prompt="hi",
    timeout=Timeout(connect=3, first_byte=4, idle=5, total=6),
)


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), ("0", 0.0), ("-3", 0.0), ("soon", None), ("", None)]
)
def test_retry_after_header_parsing(header: str, seconds: object) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    import email.utils
    import time

    value = email.utils.formatdate(time.time() + 60, usegmt=True)
    parsed = parse_retry_after(value)
    assert parsed is not None and 55 < parsed <= 61


# --------------------------------------------------------------------------- error mapping


def _connection_key() -> object:
    from aiohttp.client_reqrep import ConnectionKey

    return ConnectionKey("h", 1, False, True, None, None, None)


NEW_TIMEOUTS = pytest.mark.skipif(
    not hasattr(aiohttp, "ConnectionTimeoutError"), reason="aiohttp >= 3.10 timeout classes"
)


@NEW_TIMEOUTS
def test_aiohttp_connection_timeout_maps_to_the_connect_phase() -> None:
    error = aiohttp.ConnectionTimeoutError("Connection timeout")  # type: ignore[attr-defined]
    mapped = map_transport_error(error, REQUEST)
    assert isinstance(mapped, UpstreamTimeoutError)
    assert (mapped.phase, mapped.seconds, mapped.provider) == ("connect", 3, "acme")


@NEW_TIMEOUTS
def test_aiohttp_socket_timeout_maps_to_the_idle_phase() -> None:
    error = aiohttp.SocketTimeoutError("Timeout on reading")  # type: ignore[attr-defined]
    mapped = map_transport_error(error, REQUEST)
    assert isinstance(mapped, UpstreamTimeoutError)
    assert (mapped.phase, mapped.seconds) == ("idle", 5)


def test_a_plain_server_timeout_mentioning_connect_maps_to_connect() -> None:  # aiohttp < 3.10
    mapped = map_transport_error(aiohttp.ServerTimeoutError("Connection timeout to x"), REQUEST)
    assert isinstance(mapped, UpstreamTimeoutError)
    # on aiohttp >= 3.10 the class decides: a plain ServerTimeoutError is a read timeout
    assert mapped.phase == ("idle" if hasattr(aiohttp, "ConnectionTimeoutError") else "connect")


def test_plain_asyncio_timeout_is_the_total_timeout() -> None:
    mapped = map_transport_error(asyncio.TimeoutError(), REQUEST)
    assert isinstance(mapped, UpstreamTimeoutError)
    assert (mapped.phase, mapped.seconds) == ("total", 6)


def test_connector_error_is_a_connection_error_naming_the_host() -> None:
    error = aiohttp.ClientConnectorError(_connection_key(), ConnectionRefusedError(111, "refused"))  # type: ignore[arg-type]
    mapped = map_transport_error(error, REQUEST)
    assert isinstance(mapped, UpstreamConnectionError)
    assert "h:1" in str(mapped)


def test_a_body_cut_short_by_a_lost_connection_is_a_connection_error() -> None:
    error = aiohttp.ClientPayloadError(
        "Response payload is not completed: <TransferEncodingError: 400>"
    )
    assert isinstance(map_transport_error(error, REQUEST), UpstreamConnectionError)


def test_a_corrupt_body_is_a_protocol_error() -> None:
    error = aiohttp.ClientPayloadError("Can not decode content-encoding: gzip")
    assert isinstance(map_transport_error(error, REQUEST), StreamProtocolError)


def _response_error(status: int, headers: object) -> aiohttp.ClientResponseError:
    from aiohttp.client_reqrep import RequestInfo
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    info = RequestInfo(URL("http://h/"), "POST", CIMultiDictProxy(CIMultiDict()), URL("http://h/"))
    return aiohttp.ClientResponseError(
        info,
        (),
        status=status,
        message="Reason",
        headers=headers,  # type: ignore[arg-type]
    )


def test_an_unparsable_http_response_is_a_protocol_error() -> None:
    mapped = map_transport_error(_response_error(400, None), REQUEST)
    assert isinstance(mapped, StreamProtocolError)
    assert "malformed" in str(mapped)


def test_a_plugins_own_raise_for_status_is_typed_like_open_stream() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    headers = CIMultiDictProxy(CIMultiDict({"Retry-After": "4"}))
    limited = map_transport_error(_response_error(429, headers), REQUEST)
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 4
    failed = map_transport_error(_response_error(503, headers), REQUEST)
    assert isinstance(failed, UpstreamHTTPError) and failed.status == 503 and failed.retryable
    refused = map_transport_error(_response_error(400, headers), REQUEST)
    assert isinstance(refused, UpstreamHTTPError) and not refused.retryable


def test_a_proxy_refusing_the_tunnel_is_a_connection_error_not_an_auth_error() -> None:
    from aiohttp.client_reqrep import RequestInfo
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    info = RequestInfo(
        URL("http://h/"), "CONNECT", CIMultiDictProxy(CIMultiDict()), URL("http://h/")
    )
    headers = CIMultiDictProxy(CIMultiDict())
    error = aiohttp.ClientHttpProxyError(info, (), status=403, message="Forbidden", headers=headers)
    mapped = map_transport_error(error, REQUEST)
    assert isinstance(mapped, UpstreamConnectionError)
    assert "proxy" in str(mapped) and mapped.retryable


def test_server_disconnected_is_a_connection_error() -> None:
    mapped = map_transport_error(aiohttp.ServerDisconnectedError(), REQUEST)
    assert isinstance(mapped, UpstreamConnectionError)


def test_timeouts_map_onto_aiohttp_phases() -> None:
    timeout = Timeout(connect=1, first_byte=2, idle=3, total=4).client_timeout()
    assert (timeout.sock_connect, timeout.sock_read, timeout.total) == (1, 3, 4)


def test_default_timeouts() -> None:
    assert Timeout() == Timeout(connect=10.0, first_byte=60.0, idle=60.0, total=None)


@pytest.mark.parametrize(
    ("base", "origin", "referer"),
    [
        ("https://chat.example.org", "https://chat.example.org", "https://chat.example.org/en"),
        ("https://example.org/app/", "https://example.org", "https://example.org/app/en"),
    ],
)
def test_site_headers_take_the_origin_of_the_base_and_refer_to_the_page(
    base: str, origin: str, referer: str
) -> None:
    headers = site_headers(base, "/en", accept="*/*")
    assert (headers["origin"], headers["referer"], headers["accept"]) == (origin, referer, "*/*")
