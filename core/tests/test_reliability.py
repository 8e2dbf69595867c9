"""Retry policy, error mapping and the first-byte timer, as units (no network).

The end-to-end behaviour against scripted upstreams is in ``tests/faults``.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, List

import aiohttp
import pytest
from chatplug import (
    CompletionRequest,
    PluginError,
    RateLimitedError,
    RetryPolicy,
    StreamProtocolError,
    Timeout,
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from chatplug.client import _as_chatplug_error, _first_piece, _retry_delay
from chatplug.http import map_transport_error, parse_retry_after
from hypothesis import given
from hypothesis import strategies as st

REQUEST = CompletionRequest(
    provider="acme",
    model="m",
    messages=({"role": "user", "content": "hi"},),
    prompt="hi",
    timeout=Timeout(connect=3, first_byte=4, idle=5, total=6),
)


# --------------------------------------------------------------------------- retry policy


@given(attempt=st.integers(min_value=1, max_value=30))
def test_backoff_grows_exponentially_up_to_the_cap_with_bounded_jitter(attempt: int) -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=8.0, jitter=0.1)
    base = min(8.0, 0.5 * 2 ** (attempt - 1))
    assert base <= policy.delay(attempt) <= base * 1.1


def test_jitter_spreads_the_delays() -> None:
    policy = RetryPolicy(backoff=1.0, jitter=0.5)
    assert len({policy.delay(1) for _ in range(20)}) > 1


def test_retry_after_is_used_as_given() -> None:
    assert RetryPolicy(backoff=0.01).delay(1, retry_after=2.5) == 2.5


def _error(status: int) -> UpstreamHTTPError:
    return UpstreamHTTPError("x", status=status)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried(status: int) -> None:
    assert _retry_delay(_error(status), RetryPolicy(jitter=0), 1, 0.0) == 0.5


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_4xx_other_than_429_is_never_retried(status: int) -> None:
    assert _retry_delay(_error(status), RetryPolicy(), 1, 0.0) is None


def test_429_waits_for_retry_after_within_the_budget() -> None:
    error = RateLimitedError("x", retry_after=3.0)
    assert _retry_delay(error, RetryPolicy(max_time=30), 1, 0.0) == 3.0


def test_429_with_retry_after_past_the_budget_gives_up() -> None:
    error = RateLimitedError("x", retry_after=3.0)
    assert _retry_delay(error, RetryPolicy(max_time=30), 1, 28.0) is None


def test_connection_errors_and_connect_timeouts_are_retried() -> None:
    policy = RetryPolicy(jitter=0)
    assert _retry_delay(UpstreamConnectionError("x"), policy, 1, 0.0) == 0.5
    assert _retry_delay(UpstreamTimeoutError("connect", 1.0), policy, 1, 0.0) == 0.5


@pytest.mark.parametrize("phase", ["first_byte", "idle", "total"])
def test_other_timeouts_are_not_retried(phase: str) -> None:
    assert _retry_delay(UpstreamTimeoutError(phase, 1.0), RetryPolicy(), 1, 0.0) is None


def test_protocol_and_plugin_errors_are_not_retried() -> None:
    assert _retry_delay(StreamProtocolError("x"), RetryPolicy(), 1, 0.0) is None
    assert _retry_delay(PluginError("x"), RetryPolicy(), 1, 0.0) is None


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(attempts=3)
    assert _retry_delay(_error(503), policy, 2, 0.0) is not None
    assert _retry_delay(_error(503), policy, 3, 0.0) is None


def test_the_total_retry_time_is_bounded() -> None:
    policy = RetryPolicy(attempts=100, backoff=1.0, max_backoff=1.0, jitter=0, max_time=10)
    assert _retry_delay(_error(503), policy, 5, 8.5) == 1.0
    assert _retry_delay(_error(503), policy, 5, 9.5) is None


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


def test_an_unknown_exception_from_a_plugin_is_a_plugin_error() -> None:
    mapped = _as_chatplug_error(KeyError("choices"), "acme", REQUEST)
    assert isinstance(mapped, PluginError)
    assert mapped.provider == "acme" and "KeyError" in str(mapped)


def test_a_chatplug_error_from_a_plugin_gets_the_provider_name() -> None:
    error = StreamProtocolError("bad")
    assert _as_chatplug_error(error, "acme", REQUEST) is error
    assert error.provider == "acme"


def test_timeouts_map_onto_aiohttp_phases() -> None:
    timeout = Timeout(connect=1, first_byte=2, idle=3, total=4).client_timeout()
    assert (timeout.sock_connect, timeout.sock_read, timeout.total) == (1, 3, 4)


def test_default_timeouts() -> None:
    assert Timeout() == Timeout(connect=10.0, first_byte=60.0, idle=60.0, total=None)


# --------------------------------------------------------------------------- first-byte timer


async def _pieces(items: List[str], delay: float = 0.0) -> AsyncIterator[str]:
    for item in items:
        await asyncio.sleep(delay)
        yield item


async def test_first_piece_skips_empty_pieces() -> None:
    loop = asyncio.get_running_loop()
    assert await _first_piece(_pieces(["", "", "a"]), 1.0, loop) == "a"


async def test_first_piece_times_out_with_the_first_byte_phase() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(UpstreamTimeoutError) as raised:
        await _first_piece(_pieces(["a"], delay=5), 0.05, loop)
    assert raised.value.phase == "first_byte"
    task = asyncio.current_task()
    assert task is not None
    assert getattr(task, "cancelling", lambda: 0)() == 0  # the timer's cancel was undone


async def test_first_piece_timer_is_disarmed_after_the_first_piece() -> None:
    loop = asyncio.get_running_loop()
    assert await _first_piece(_pieces(["a"]), 0.05, loop) == "a"
    await asyncio.sleep(0.1)  # would be cancelled here if the timer were still armed


async def test_a_stream_without_text_is_a_protocol_error() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(StreamProtocolError):
        await _first_piece(_pieces(["", ""]), None, loop)


async def test_an_outside_cancellation_during_the_first_byte_wait_stays_a_cancellation() -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(_first_piece(_pieces(["a"], delay=5), 0.2, loop))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
