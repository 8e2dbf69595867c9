"""Ready-made tests of how a plugin reports its emulator's scripted faults to the caller.

For a plugin whose emulator takes the kit's fault script (``create_app(**faults)`` with
:class:`chatplug.emulator_kit.Faults`) and whose conftest has the kit's fixtures
(:func:`~chatplug.testing.plugin_fixtures`: ``emulator``, ``client``, ``wait_until``),
subclass :class:`EmulatorFaultTests` in a test module::

    from chatplug.testing import EmulatorFaultTests

    class TestFaults(EmulatorFaultTests):
        provider = "acme"
        path = "/v1/chat"  # the path of the streamed request

Each test goes through :class:`~chatplug.AsyncClient` (or :class:`~chatplug.Client`): an
HTTP error status raises its typed error with the status, the body and the provider; a
truncated body raises after the text that came (not a short answer), and so does a
connection dropped in the middle of the body; a stall between writes is an idle timeout;
stopping early closes the upstream connection; consecutive completions share one pooled
connection.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, ClassVar

import pytest

from ..emulation import EmulatorThread, RunningEmulator, emulator_factory
from ..emulator_kit import DISCONNECTS, REQUESTS
from ..errors import (
    AuthenticationError,
    RateLimitedError,
    StreamProtocolError,
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from ..types import Timeout

__all__ = ["EmulatorFaultTests"]

Start = Callable[..., Awaitable[RunningEmulator]]


class EmulatorFaultTests:
    """The tests (see the module docstring); set :attr:`provider` and :attr:`path`."""

    #: the provider id the plugin serves
    provider: ClassVar[str] = ""
    #: the path of the emulator's streamed request (where a disconnect is noted)
    path: ClassVar[str] = ""
    #: the user message of every test
    prompt: ClassVar[str] = "Grüße ✓ 日本"
    #: a pattern the error of a truncated body (``truncate``) matches, e.g. ``"DONE"``
    truncated: ClassVar[str] = ""

    async def complete(self, client: Callable[..., Any], url: str, **kwargs: Any) -> str:
        text: str = await client(url, **kwargs).complete(self.prompt, provider=self.provider)
        return text

    async def test_http_500_raises_with_status_and_body_excerpt(
        self, emulator: Start, client: Callable[..., Any]
    ) -> None:
        upstream = await emulator(status=500, error_body="upstream crashed ✓: boom")
        with pytest.raises(UpstreamHTTPError) as caught:
            await self.complete(client, upstream.url)
        assert caught.value.status == 500
        assert "upstream crashed ✓" in caught.value.body
        assert caught.value.provider == self.provider

    async def test_http_429_raises_rate_limited_with_retry_after(
        self, emulator: Start, client: Callable[..., Any]
    ) -> None:
        upstream = await emulator(status=429, error_body="Too many requests", retry_after="12")
        with pytest.raises(RateLimitedError) as caught:
            await self.complete(client, upstream.url)
        assert (caught.value.retry_after, caught.value.body) == (12.0, "Too many requests")

    @pytest.mark.parametrize("status", [401, 403])
    async def test_http_401_and_403_raise_authentication_error(
        self, emulator: Start, client: Callable[..., Any], status: int
    ) -> None:
        upstream = await emulator(status=status, error_body="Forbidden")
        with pytest.raises(AuthenticationError) as caught:
            await self.complete(client, upstream.url)
        assert caught.value.status == status

    async def test_http_400_keeps_the_upstreams_error_body(
        self, emulator: Start, client: Callable[..., Any]
    ) -> None:
        upstream = await emulator(status=400, error_body='{"error": "bad request ✓"}')
        with pytest.raises(UpstreamHTTPError) as caught:
            await self.complete(client, upstream.url)
        assert (caught.value.status, caught.value.body) == (400, '{"error": "bad request ✓"}')

    async def test_a_truncated_body_raises_after_the_partial_text(
        self, emulator: Start, client: Callable[..., Any]
    ) -> None:
        upstream = await emulator(truncate=True)
        pieces = []
        with pytest.raises(StreamProtocolError, match=self.truncated) as caught:
            async with client(upstream.url).stream(self.prompt, provider=self.provider) as stream:
                async for piece in stream:
                    pieces.append(piece)
        assert caught.value.partial_length == len("".join(pieces)) > 0
        assert caught.value.provider == self.provider

    async def test_connection_dropped_mid_body_is_an_error_not_a_short_answer(
        self, emulator: Start, client: Callable[..., Any]
    ) -> None:
        upstream = await emulator(drop=True)
        with pytest.raises(UpstreamConnectionError, match="lost before the response ended"):
            await self.complete(client, upstream.url)

    async def test_breaking_out_mid_stream_closes_the_upstream_connection(
        self, emulator: Start, client: Callable[..., Any], wait_until: Callable[..., Any]
    ) -> None:
        upstream = await emulator(delay=0.05)
        async with client(upstream.url).stream(self.prompt, provider=self.provider) as stream:
            async for piece in stream:
                assert piece
                break
        await wait_until(lambda: upstream.app[DISCONNECTS])
        assert upstream.app[DISCONNECTS] == [self.path]

    async def test_idle_timeout_between_chunks_raises(
        self, emulator: Start, client: Callable[..., Any]
    ) -> None:
        upstream = await emulator(delay=1.5)  # between writes: longer than the idle timeout
        timeout = Timeout(connect=5, first_byte=5, idle=0.3)
        with pytest.raises(UpstreamTimeoutError) as caught:
            await self.complete(client, upstream.url, timeout=timeout)
        assert caught.value.phase == "idle"

    async def test_one_pooled_connection_serves_consecutive_completions(
        self, emulator: Start, client: Callable[..., Any]
    ) -> None:
        upstream = await emulator()
        shared = client(upstream.url)
        for _ in range(3):
            assert await shared.complete(self.prompt, provider=self.provider)
        assert len({request["peer"] for request in upstream.app[REQUESTS]}) == 1

    def test_sync_client_streams_and_completes_the_emulator_reply(self) -> None:
        from .. import Client, Registry

        registry = Registry(enabled=[self.provider])
        with EmulatorThread(emulator_factory(self.provider)()) as upstream:
            base_urls = {self.provider: upstream.url}
            with Client(registry=registry, base_urls=base_urls) as sync_client:
                pieces = list(sync_client.stream(self.prompt, provider=self.provider))
                assert "".join(pieces) == upstream.replies[-1]
                assert sync_client.complete("again", provider=self.provider) == upstream.replies[-1]
