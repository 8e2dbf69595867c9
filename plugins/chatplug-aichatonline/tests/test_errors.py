"""Upstream failures surface as typed errors with the status and a body excerpt."""

from __future__ import annotations

from typing import Any

import pytest
from chatplug import (
    AsyncClient,
    AuthenticationError,
    RateLimitedError,
    Registry,
    StreamProtocolError,
    UpstreamError,
    UpstreamHTTPError,
)


@pytest.mark.parametrize("status", [400, 403, 404, 500, 502, 503])
async def test_chat_http_errors_are_typed_with_a_body_excerpt(
    upstream: Any, run_hook: Any, status: int
) -> None:
    upstream.status = status
    upstream.body = b'{"code":%d,"message":"upstream said no"}' % status
    with pytest.raises(UpstreamHTTPError) as caught:
        await run_hook(upstream.url)
    assert caught.value.status == status
    assert caught.value.provider == "aichatonline"
    assert "upstream said no" in caught.value.body
    assert isinstance(caught.value, AuthenticationError) == (status == 403)
    assert caught.value.retryable == (status >= 500)


async def test_429_is_rate_limited_with_retry_after(upstream: Any, run_hook: Any) -> None:
    upstream.status = 429
    upstream.body = b"slow down please"
    upstream.headers = {"Retry-After": "7"}
    with pytest.raises(RateLimitedError) as caught:
        await run_hook(upstream.url)
    assert caught.value.status == 429
    assert caught.value.retry_after == 7.0
    assert "slow down" in caught.value.body


async def test_a_long_error_body_is_cut_to_an_excerpt(upstream: Any, run_hook: Any) -> None:
    upstream.status = 500
    upstream.body = b"boom " * 10_000
    with pytest.raises(UpstreamHTTPError) as caught:
        await run_hook(upstream.url)
    assert caught.value.body.startswith("boom boom")
    assert len(caught.value.body) <= 300


async def test_a_get_unique_id_failure_is_typed(upstream: Any, run_hook: Any) -> None:
    upstream.id_status = 503
    upstream.id_body = b"maintenance"
    with pytest.raises(UpstreamHTTPError) as caught:
        await run_hook(upstream.url)
    assert caught.value.status == 503
    assert "maintenance" in caught.value.body
    assert upstream.posts == []


@pytest.mark.parametrize(
    "body",
    [b"<html>not json</html>", b'{"code":200}', b'{"data":""}', b'{"data":{"id":"x"}}', b"[]"],
)
async def test_a_get_unique_id_answer_without_an_id_is_a_protocol_error(
    upstream: Any, run_hook: Any, body: bytes
) -> None:
    upstream.id_body = body
    with pytest.raises(StreamProtocolError, match="getUniqueId"):
        await run_hook(upstream.url)
    assert upstream.posts == []


async def test_a_stream_truncated_mid_object_is_an_error(upstream: Any, run_hook: Any) -> None:
    upstream.chunks = [b'{"data":{"message":"Hel"}}\n', b'{"data":{"message":"lo wo']
    with pytest.raises(StreamProtocolError, match="middle of a JSON object"):
        await run_hook(upstream.url)


async def test_a_stream_of_keepalives_only_is_an_error(upstream: Any, run_hook: Any) -> None:
    upstream.chunks = [b": keep-alive\n", b'{"code":200,"data":{"status":"done"}}\n']
    with pytest.raises(StreamProtocolError, match="without any text"):
        await run_hook(upstream.url)


async def test_a_malformed_object_in_the_stream_is_an_error(upstream: Any, run_hook: Any) -> None:
    upstream.chunks = [b'{"data":{"message":"a"}}\n', b'{"data":{"message":"b"\n', b"ping\n"]
    with pytest.raises(StreamProtocolError, match="malformed"):
        await run_hook(upstream.url)


async def test_the_client_reports_a_truncated_answer_with_its_partial_length(
    upstream: Any, registry: Registry
) -> None:
    upstream.chunks = [b'{"data":{"message":"Hello"}}\n', b'{"data":{"mess']
    pieces = []
    async with AsyncClient(registry=registry, base_urls={"aichatonline": upstream.url}) as client:
        with pytest.raises(StreamProtocolError) as caught:
            async for piece in client.stream("hi", provider="aichatonline"):
                pieces.append(piece)
    assert pieces == ["Hello"]
    assert caught.value.partial_length == 5
    assert caught.value.provider == "aichatonline"


async def test_a_connection_cut_mid_body_is_a_typed_error_not_a_short_answer(
    upstream: Any, registry: Registry
) -> None:
    upstream.chunks = [b'{"data":{"message":"Hello"}}\n', b'{"data":']
    upstream.cut = True
    async with AsyncClient(registry=registry, base_urls={"aichatonline": upstream.url}) as client:
        with pytest.raises(UpstreamError) as caught:
            await client.complete("hi", provider="aichatonline")
    assert caught.value.partial_length == 5


async def test_the_client_retries_a_5xx_then_reports_it_typed(
    upstream: Any, registry: Registry
) -> None:
    upstream.status = 502
    upstream.body = b"bad gateway"
    async with AsyncClient(
        registry=registry, base_urls={"aichatonline": upstream.url}, retry=2
    ) as client:
        with pytest.raises(UpstreamHTTPError) as caught:
            await client.complete("hi", provider="aichatonline")
    assert caught.value.status == 502
    assert len(upstream.posts) == 2
    assert upstream.gets == 1  # the UniqueId is cached across the retries
