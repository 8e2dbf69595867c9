"""Fallback across providers, plugin bugs, and the circuit breaker, end to end."""

from __future__ import annotations

from typing import List

import pytest
from chatplug import (
    AllProvidersFailedError,
    CircuitBreaker,
    PluginError,
    UpstreamHTTPError,
)
from chatplug.testing import ScriptedUpstream
from faultkit import (
    MODEL,
    collect,
    make_client,
    settle,
    sse_ok,
    status,
)

pytestmark = pytest.mark.timeout(20)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def names(attempts: List["tuple[str, str]"]) -> List[str]:
    return [name for name, _ in attempts]


# --------------------------------------------------------------------------- plugin bugs


async def test_a_plugin_raising_inside_stream_completion_is_a_plugin_error() -> None:
    async with make_client({"a": ("broken", "http://127.0.0.1:9")}) as client:
        outcome = await collect(client)
        assert isinstance(outcome.error, PluginError)
        assert outcome.error.provider == "a"
        assert "RuntimeError: boom in the plugin" in str(outcome.error)
        assert isinstance(outcome.error.__cause__, RuntimeError)


async def test_a_plugin_error_is_not_retried_and_a_fallback_provider_answers() -> None:
    async with ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("broken", "http://127.0.0.1:9"), "b": ("sse", good.url)}
        async with make_client(providers) as client:
            outcome = await collect(client, retry=5)
            assert outcome.complete and outcome.text == "Hello wörld"
            assert names(outcome.attempts) == ["a", "b"]
            assert await settle(client) == 0


async def test_a_plugin_raising_after_text_propagates_with_the_partial_length() -> None:
    async with ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("halfbroken", "http://127.0.0.1:9"), "b": ("sse", good.url)}
        async with make_client(providers) as client:
            outcome = await collect(client)
            assert outcome.text == "abc"
            assert isinstance(outcome.error, PluginError)
            assert outcome.error.partial_length == 3
            assert good.requests == []


async def test_when_every_provider_fails_the_error_lists_every_cause() -> None:
    async with ScriptedUpstream(status(503)) as down:
        providers = {"a": ("broken", "http://127.0.0.1:9"), "b": ("sse", down.url)}
        async with make_client(providers) as client:
            outcome = await collect(client)
            error = outcome.error
            assert isinstance(error, AllProvidersFailedError)
            assert list(error.errors) == ["a", "b"]
            assert isinstance(error.errors["a"], PluginError)
            assert isinstance(error.errors["b"], UpstreamHTTPError)
            assert "a: PluginError" in str(error) and "b: UpstreamHTTPError" in str(error)
            assert error.partial_length is None


# --------------------------------------------------------------------------- fallback order


async def test_a_bare_model_id_offered_by_several_providers_falls_back_across_them() -> None:
    async with ScriptedUpstream(status(503)) as down, ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("sse", down.url), "b": ("sse", good.url)}
        async with make_client(providers, order=[]) as client:  # no order: every provider
            outcome = await collect(client, model=MODEL)
            assert outcome.complete and outcome.provider == "b"
            assert names(outcome.attempts) == ["a", "b"]


async def test_the_given_order_is_followed() -> None:
    async with (
        ScriptedUpstream(sse_ok(["from a"])) as one,
        ScriptedUpstream(sse_ok(["from b"])) as two,
    ):
        providers = {"a": ("sse", one.url), "b": ("sse", two.url)}
        async with make_client(providers, order=["b", "a"]) as client:
            outcome = await collect(client)
            assert outcome.text == "from b"
            assert one.requests == []


async def test_healthiest_first_tries_the_provider_with_fewer_recent_failures() -> None:
    breaker = CircuitBreaker(threshold=10, cooldown=30)
    async with (
        ScriptedUpstream(status(503), sse_ok(["from a"])) as one,
        ScriptedUpstream(sse_ok(["b"])) as two,
    ):
        providers = {"a": ("sse", one.url), "b": ("sse", two.url)}
        async with make_client(providers, fallback="healthiest", breaker=breaker) as client:
            first = await collect(client)
            assert names(first.attempts) == ["a", "b"] and first.text == "b"
            second = await collect(client)  # a has 1 failure, b none: b first
            assert names(second.attempts) == ["b"]
            assert len(one.requests) == 1


# --------------------------------------------------------------------------- circuit breaker


async def test_a_provider_failing_repeatedly_is_skipped_for_the_cool_down() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=clock)
    async with ScriptedUpstream(status(503)) as down, ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("sse", down.url), "b": ("sse", good.url)}
        async with make_client(providers, breaker=breaker) as client:
            for _ in range(2):
                assert (await collect(client)).provider == "b"
            assert len(down.requests) == 2
            resting = await collect(client)
            assert resting.complete and names(resting.attempts) == ["b"]
            assert len(down.requests) == 2  # not even tried
            health = {info.name: info.health for info in client.providers()}  # type: ignore[attr-defined]
            assert health["a"].startswith("resting (30s left")
            assert health["b"] == "ok"


async def test_after_the_cool_down_the_provider_is_tried_again_and_recovers() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=clock)
    async with ScriptedUpstream(status(503), status(503), sse_ok(["a is back"])) as flaky:
        async with ScriptedUpstream(sse_ok()) as good:
            providers = {"a": ("sse", flaky.url), "b": ("sse", good.url)}
            async with make_client(providers, breaker=breaker) as client:
                await collect(client)
                await collect(client)
                assert not breaker.available("a")
                clock.now += 31
                outcome = await collect(client)
                assert outcome.text == "a is back"
                assert breaker.describe("a") == "ok"


async def test_a_failed_probe_after_the_cool_down_rests_the_provider_again() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=clock)
    async with ScriptedUpstream(status(503)) as down, ScriptedUpstream(sse_ok()) as good:
        providers = {"a": ("sse", down.url), "b": ("sse", good.url)}
        async with make_client(providers, breaker=breaker) as client:
            await collect(client)
            await collect(client)
            clock.now += 31
            await collect(client)  # the probe fails
            assert len(down.requests) == 3
            assert not breaker.available("a")
            await collect(client)
            assert len(down.requests) == 3


async def test_when_every_candidate_is_resting_they_are_still_tried() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown=30, clock=clock)
    async with (
        ScriptedUpstream(status(503), sse_ok(["recovered"])) as one,
        ScriptedUpstream(status(503)) as two,
    ):
        providers = {"a": ("sse", one.url), "b": ("sse", two.url)}
        async with make_client(providers, breaker=breaker) as client:
            await collect(client)
            assert not breaker.available("a") and not breaker.available("b")
            outcome = await collect(client)  # failing fast would answer nothing at all
            assert outcome.text == "recovered"


async def test_a_resting_provider_asked_for_explicitly_is_still_tried() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown=30, clock=clock)
    async with ScriptedUpstream(status(503), sse_ok(["ok now"])) as up:
        async with make_client({"a": ("sse", up.url)}, breaker=breaker) as client:
            await collect(client)
            assert not breaker.available("a")
            assert (await collect(client, provider="a")).text == "ok now"


async def test_a_consumer_stopping_early_is_not_a_provider_failure() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=30)
    async with ScriptedUpstream(sse_ok()) as up:
        async with make_client({"a": ("sse", up.url)}, breaker=breaker) as client:
            async with client.stream("hi") as stream:
                async for _ in stream:
                    break
            assert breaker.describe("a") == "ok"
            assert await settle(client) == 0


async def test_resting_providers_are_listed_as_skipped_when_everything_else_fails() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown=30, clock=clock)
    async with (
        ScriptedUpstream(status(503)) as one,
        ScriptedUpstream(status(503), status(400)) as two,
    ):
        providers = {"a": ("sse", one.url), "b": ("sse", two.url)}
        async with make_client(providers, breaker=breaker, order=["a", "b"]) as client:
            await collect(client)  # both fail: both rest
            clock.now += 31  # b's rest ends first... both do; make a rest again
            breaker.record_failure("a")
            outcome = await collect(client)
            assert isinstance(outcome.error, AllProvidersFailedError)
            assert "resting" in str(outcome.error.errors["a"])
            assert len(one.requests) == 1
