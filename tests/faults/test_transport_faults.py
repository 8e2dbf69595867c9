"""Transport faults: refused, reset, stalls, slow drip, and each timeout phase.

Every test checks the outcome (text or typed error), that nothing hangs (tight timeouts,
plus a pytest-timeout bound), that no connection stays checked out of the pool, and (via
``collect``) that a partial answer is never reported as complete.
"""

from __future__ import annotations

import pytest
from chatplug import (
    RetryPolicy,
    StreamProtocolError,
    Timeout,
    UpstreamConnectionError,
    UpstreamTimeoutError,
)
from chatplug.testing import Reply, ScriptedUpstream, split_bytes
from faultkit import (
    FAST_TIMEOUT,
    QUICK_RETRY,
    chunk,
    collect,
    make_client,
    raw_chunked,
    refused_url,
    settle,
    sse_event,
    sse_ok,
    stream,
    unresponsive_url,
)

pytestmark = pytest.mark.timeout(20)


# --------------------------------------------------------------------------- connection refused


async def test_connection_refused_is_a_connection_error_after_bounded_retries() -> None:
    async with make_client({"a": ("sse", refused_url())}, retry=QUICK_RETRY) as client:
        outcome = await collect(client)
        assert isinstance(outcome.error, UpstreamConnectionError)
        assert outcome.error.provider == "a"
        assert len(outcome.attempts) == QUICK_RETRY.attempts
        assert outcome.text == ""
        assert await settle(client) == 0


async def test_connection_refused_falls_back_to_the_next_provider() -> None:
    async with ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("sse", refused_url()), "b": ("sse", good.url)}
        async with make_client(providers) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.text == "Hello wörld"
            assert outcome.provider == "b"
            assert [name for name, _ in outcome.attempts] == ["a", "b"]
            assert await settle(client) == 0


# --------------------------------------------------------------------------- reset


reset_after_first_event = stream(sse_event("abc"), end_delay=0.05, end="reset")


async def test_reset_mid_stream_raises_with_the_partial_length_and_no_fallback() -> None:
    async with (
        ScriptedUpstream(reset_after_first_event) as flaky,
        ScriptedUpstream(sse_ok()) as good,
    ):
        providers = {"a": ("sse", flaky.url), "b": ("sse", good.url)}
        async with make_client(providers, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert outcome.text == "abc"
            assert isinstance(outcome.error, UpstreamConnectionError)
            assert outcome.error.partial_length == 3
            assert "3 characters of partial text" in str(outcome.error)
            assert good.requests == []  # text was out: no fallback, no retry
            assert len(flaky.requests) == 1
            assert await settle(client) == 0


reset_before_response = Reply(raw=True, end="reset")


async def test_reset_before_any_text_is_retried_then_succeeds() -> None:
    async with ScriptedUpstream(reset_before_response, sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.text == "Hello wörld"
            assert len(outcome.attempts) == 2
            assert await settle(client) == 0


close_mid_chunked_body = raw_chunked(chunk(sse_event("abc")) + b"40\r\ndata: {")  # frame cut short


async def test_connection_closed_inside_a_chunk_is_not_a_complete_answer() -> None:
    async with ScriptedUpstream(close_mid_chunked_body) as up:
        async with make_client({"a": ("sse", up.url)}) as client:
            outcome = await collect(client)
            assert outcome.text == "abc"
            assert isinstance(outcome.error, (UpstreamConnectionError, StreamProtocolError))
            assert outcome.error.partial_length == 3
            assert await settle(client) == 0


# --------------------------------------------------------------------------- stalls


stall_before_headers = Reply(raw=True, end="hang")
stall_after_headers = stream(end="hang")


@pytest.mark.parametrize("script", [stall_before_headers, stall_after_headers])
async def test_stall_before_first_byte_is_a_first_byte_timeout(script: Reply) -> None:
    timeout = Timeout(connect=1.0, first_byte=0.3, idle=5.0)
    async with ScriptedUpstream(script) as up:
        async with make_client({"a": ("sse", up.url)}, timeout=timeout) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, UpstreamTimeoutError)
            assert outcome.error.phase == "first_byte"
            assert 0.25 < outcome.elapsed < 2.0
            assert await up.wait_client_closed()  # the upstream saw the connection go
            assert await settle(client) == 0


async def test_first_byte_timeout_falls_back_to_the_next_provider() -> None:
    timeout = Timeout(connect=1.0, first_byte=0.3, idle=5.0)
    async with ScriptedUpstream(stall_after_headers) as slow, ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("sse", slow.url), "b": ("sse", good.url)}
        async with make_client(providers, timeout=timeout, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.provider == "b"
            assert len(slow.requests) == 1  # a first-byte timeout is not retried
            assert await settle(client) == 0


async def test_waiting_for_headers_is_bounded_by_the_idle_timeout() -> None:
    timeout = Timeout(connect=1.0, first_byte=5.0, idle=0.3)
    async with ScriptedUpstream(stall_before_headers) as up:
        async with make_client({"a": ("sse", up.url)}, timeout=timeout) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, UpstreamTimeoutError)
            assert outcome.error.phase == "idle"
            assert outcome.elapsed < 2.0
            assert await settle(client) == 0


stall_mid_stream = stream(sse_event("abc"), end="hang")


async def test_stall_mid_stream_is_an_idle_timeout_with_the_partial_length() -> None:
    timeout = Timeout(connect=1.0, first_byte=1.0, idle=0.3)
    async with ScriptedUpstream(stall_mid_stream) as up, ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("sse", up.url), "b": ("sse", good.url)}
        async with make_client(providers, timeout=timeout, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert outcome.text == "abc"
            assert isinstance(outcome.error, UpstreamTimeoutError)
            assert outcome.error.phase == "idle"
            assert outcome.error.partial_length == 3
            assert good.requests == []
            assert await up.wait_client_closed()
            assert await settle(client) == 0


# --------------------------------------------------------------------------- slow drip, total


def drip(body: bytes, every: float = 0.05) -> Reply:
    """One byte at a time, ``every`` seconds apart, in a body delimited by closing."""
    chunks = split_bytes(body, [1])
    return stream(*chunks, content_type="text/plain", framing="eof", delay=every, end_delay=every)


async def test_slow_drip_one_byte_per_50ms_succeeds_when_idle_is_larger() -> None:
    text = "slow drip ✓"  # 13 bytes: the check mark arrives one byte at a time
    timeout = Timeout(connect=1.0, first_byte=1.0, idle=1.0)
    async with ScriptedUpstream(drip(text.encode())) as up:
        async with make_client({"a": ("text", up.url)}, timeout=timeout) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.text == text
            assert outcome.elapsed >= 0.05 * (len(text.encode()) - 1)
            assert await settle(client) == 0


async def test_slow_drip_slower_than_the_idle_timeout_is_an_idle_timeout() -> None:
    timeout = Timeout(connect=1.0, first_byte=2.0, idle=0.2)
    async with ScriptedUpstream(drip(b"abcdef", every=0.5)) as up:
        async with make_client({"a": ("text", up.url)}, timeout=timeout) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, UpstreamTimeoutError)
            assert outcome.error.phase == "idle"
            assert outcome.text == "a"
            assert await settle(client) == 0


async def test_total_timeout_bounds_a_drip_that_never_idles() -> None:
    timeout = Timeout(connect=1.0, first_byte=1.0, idle=1.0, total=0.6)
    async with ScriptedUpstream(drip(b"x" * 40)) as up:
        async with make_client({"a": ("text", up.url)}, timeout=timeout) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, UpstreamTimeoutError)
            assert outcome.error.phase == "total"
            assert 0 < len(outcome.text) < 40
            assert outcome.elapsed < 2.0
            assert await settle(client) == 0


# --------------------------------------------------------------------------- connect timeout


async def test_connect_timeout_names_the_connect_phase_and_is_retried() -> None:
    url, close = unresponsive_url()
    try:
        timeout = Timeout(connect=0.2, first_byte=5.0, idle=5.0)
        retry = RetryPolicy(attempts=2, backoff=0.01, max_time=5.0)
        async with make_client({"a": ("sse", url)}, timeout=timeout, retry=retry) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, UpstreamTimeoutError)
            assert outcome.error.phase == "connect"
            assert len(outcome.attempts) == 2  # connect timeouts are transient: retried
            assert outcome.elapsed < 2.0
            assert await settle(client) == 0
    finally:
        close()


async def test_per_call_timeout_overrides_the_client_timeout() -> None:
    async with ScriptedUpstream(stall_after_headers) as up:
        async with make_client({"a": ("sse", up.url)}, timeout=FAST_TIMEOUT) as client:
            outcome = await collect(client, timeout=Timeout(connect=1.0, first_byte=0.2, idle=5))
            assert isinstance(outcome.error, UpstreamTimeoutError)
            assert outcome.error.seconds == 0.2
            assert outcome.elapsed < 0.8


async def test_waiting_for_a_free_pooled_connection_is_bounded_by_first_byte() -> None:
    timeout = Timeout(connect=1.0, first_byte=0.3, idle=5.0)
    async with ScriptedUpstream(stall_mid_stream) as up:
        async with make_client(
            {"a": ("sse", up.url)}, timeout=timeout, connection_limit=1
        ) as client:
            async with client.stream("hi") as holder:  # holds the only connection
                assert await holder.__anext__() == "abc"
                outcome = await collect(client)
                assert isinstance(outcome.error, UpstreamTimeoutError)
                assert outcome.error.phase == "first_byte"
                assert len(up.requests) == 1  # the second request never got a connection
            assert await settle(client) == 0


async def test_a_proxy_refusing_the_tunnel_is_a_connection_error_naming_the_proxy() -> None:
    refuse = Reply(status=403, headers={"Content-Type": "text/plain"}, framing="length")

    async with ScriptedUpstream(refuse) as proxy:  # answers CONNECT upstream.invalid:443
        target = {"a": ("sse", "https://upstream.invalid")}  # never reached: the proxy refuses
        async with make_client(target, proxy=proxy.url) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, UpstreamConnectionError)
            assert "proxy" in str(outcome.error)
            assert proxy.requests[0].method == "CONNECT"
            assert await settle(client) == 0
