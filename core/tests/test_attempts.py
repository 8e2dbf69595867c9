"""The attempt loop's units: the retry decision, error mapping and the first-byte timer.

The loop end to end (retries, fallback, resting providers) runs against scripted
upstreams in ``tests/faults``; the client-level behaviour in ``test_client.py``.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, List

import pytest
from chatplug import (
    CompletionRequest,
    PluginError,
    RateLimitedError,
    RetryPolicy,
    StreamProtocolError,
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from chatplug._attempts import _as_chatplug_error, _first_piece, _retry_delay
from hypothesis import given
from hypothesis import strategies as st

REQUEST = CompletionRequest(provider="acme", model="m", messages=(), prompt="hi")


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


def test_an_unknown_exception_from_a_plugin_is_a_plugin_error() -> None:
    mapped = _as_chatplug_error(KeyError("choices"), "acme", REQUEST)
    assert isinstance(mapped, PluginError)
    assert mapped.provider == "acme" and "KeyError" in str(mapped)


def test_a_chatplug_error_from_a_plugin_gets_the_provider_name() -> None:
    error = StreamProtocolError("bad")
    assert _as_chatplug_error(error, "acme", REQUEST) is error
    assert error.provider == "acme"


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
