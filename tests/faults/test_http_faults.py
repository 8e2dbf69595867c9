"""HTTP error statuses: what is retried (429, 5xx), how long, and what never is (4xx)."""

from __future__ import annotations

import pytest
from chatplug import (
    AllProvidersFailedError,
    AuthenticationError,
    RateLimitedError,
    RetryPolicy,
    UpstreamHTTPError,
)
from chatplug.testing import ScriptedUpstream
from faultkit import NO_RETRY, QUICK_RETRY, collect, make_client, settle, sse_ok, status

pytestmark = pytest.mark.timeout(20)


# --------------------------------------------------------------------------- 429


async def test_429_with_retry_after_waits_that_long_then_succeeds() -> None:
    async with ScriptedUpstream(status(429, {"Retry-After": "0.3"}), sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.text == "Hello wörld"
            assert len(outcome.attempts) == 2
            assert outcome.elapsed >= 0.3  # honoured, although the backoff would be 0.01 s
            assert await settle(client) == 0


async def test_429_without_retry_after_backs_off_exponentially_then_succeeds() -> None:
    retry = RetryPolicy(attempts=3, backoff=0.1, max_backoff=1.0, max_time=5.0, jitter=0.0)
    async with ScriptedUpstream(status(429), status(429), sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}, retry=retry) as client:
            outcome = await collect(client)
            assert outcome.complete
            assert len(outcome.attempts) == 3
            assert outcome.elapsed >= 0.1 + 0.2  # 0.1 s, then 0.2 s
            assert await settle(client) == 0


async def test_429_whose_retry_after_exceeds_the_retry_budget_is_not_waited_for() -> None:
    retry = RetryPolicy(attempts=3, backoff=0.01, max_time=1.0)
    async with ScriptedUpstream(status(429, {"Retry-After": "120"}), sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}, retry=retry) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, RateLimitedError)
            assert outcome.error.retry_after == 120
            assert len(outcome.attempts) == 1
            assert outcome.elapsed < 1.0
            assert await settle(client) == 0


async def test_429_beyond_the_budget_falls_back_to_the_next_provider() -> None:
    limited = status(429, {"Retry-After": "120"})
    async with ScriptedUpstream(limited) as busy, ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("sse", busy.url), "b": ("sse", good.url)}
        async with make_client(providers, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.provider == "b"
            assert outcome.elapsed < 1.0


# --------------------------------------------------------------------------- 5xx


async def test_503_then_success_is_retried_and_answers() -> None:
    async with ScriptedUpstream(status(503, body=b"overloaded"), sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.text == "Hello wörld"
            assert len(up.requests) == 2
            assert await settle(client) == 0


async def test_persistent_503_stops_after_the_attempt_bound_with_the_body_excerpt() -> None:
    async with ScriptedUpstream(status(503, body=b"overloaded, go away")) as up:
        async with make_client({"a": ("sse", up.url)}, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, UpstreamHTTPError)
            assert outcome.error.status == 503
            assert "overloaded, go away" in str(outcome.error)
            assert len(up.requests) == QUICK_RETRY.attempts
            assert await settle(client) == 0


async def test_retries_stop_at_the_total_time_bound() -> None:
    retry = RetryPolicy(attempts=50, backoff=0.1, max_backoff=0.1, max_time=0.5, jitter=0.0)
    async with ScriptedUpstream(status(502)) as up:
        async with make_client({"a": ("sse", up.url)}, retry=retry) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, UpstreamHTTPError)
            assert 2 <= len(up.requests) <= 6
            assert outcome.elapsed < 1.5


# --------------------------------------------------------------------------- 4xx


@pytest.mark.parametrize(
    ("code", "error_type"),
    [(400, UpstreamHTTPError), (404, UpstreamHTTPError), (401, AuthenticationError)],
)
async def test_4xx_is_never_retried(code: int, error_type: type) -> None:
    async with ScriptedUpstream(status(code), sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, error_type)
            assert outcome.error.status == code
            assert len(up.requests) == 1
            assert await settle(client) == 0


async def test_4xx_still_falls_back_to_another_provider() -> None:
    async with ScriptedUpstream(status(400)) as bad, ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("sse", bad.url), "b": ("sse", good.url)}
        async with make_client(providers, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.provider == "b"
            assert len(bad.requests) == 1


# --------------------------------------------------------------------------- configuration


async def test_per_call_retry_overrides_the_client_policy_upwards() -> None:
    async with ScriptedUpstream(status(503), sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}, retry=NO_RETRY) as client:
            outcome = await collect(client, retry=RetryPolicy(attempts=2, backoff=0.01))
            assert outcome.complete
            assert len(up.requests) == 2


async def test_per_call_retry_overrides_the_client_policy_downwards() -> None:
    async with ScriptedUpstream(status(503), sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}, retry=QUICK_RETRY) as client:
            outcome = await collect(client, retry=1)
            assert isinstance(outcome.error, UpstreamHTTPError)
            assert len(up.requests) == 1


async def test_all_providers_failing_lists_each_cause() -> None:
    async with ScriptedUpstream(status(503)) as one, ScriptedUpstream(status(400)) as two:
        providers = {"a": ("sse", one.url), "b": ("sse", two.url)}
        async with make_client(providers) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, AllProvidersFailedError)
            assert set(outcome.error.errors) == {"a", "b"}
            assert outcome.error.errors["a"].status == 503  # type: ignore[attr-defined]
            assert outcome.error.errors["b"].status == 400  # type: ignore[attr-defined]
            assert "a: UpstreamHTTPError" in str(outcome.error)
            assert "b: UpstreamHTTPError" in str(outcome.error)
