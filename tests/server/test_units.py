"""The server's pure parts: chunk encoding, request validation, error mapping, options."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import click
import pytest
from chatplug.cli.serve import parse_base_urls
from chatplug.errors import (
    AllProvidersFailedError,
    AuthenticationError,
    ModelNotFoundError,
    PluginLoadError,
    RateLimitedError,
    StreamProtocolError,
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from chatplug.server.protocol import (
    ApiError,
    api_error,
    parse_chat_request,
    parse_json_body,
)


def test_parse_json_body_rejects_invalid_utf8() -> None:
    with pytest.raises(ApiError) as caught:
        parse_json_body(b'{"a": "\xff"}')
    assert caught.value.status == 400


def test_parse_chat_request_collects_the_typed_fields() -> None:
    chat = parse_chat_request(
        {
            "model": " p/m ",
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0,
            "max_completion_tokens": 5,
            "stop": "END",
            "user": "u",
            "logit_bias": {"1": 2},
        }
    )
    assert chat.model == "p/m"
    assert chat.fields == {
        "temperature": 0,
        "max_completion_tokens": 5,
        "stop": "END",
        "user": "u",
        "logit_bias": {"1": 2},
    }
    assert chat.stream is False


def test_parse_chat_request_accepts_text_content_parts() -> None:
    chat = parse_chat_request(
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}
    )
    assert chat.messages == ({"role": "user", "content": "a"},)


@pytest.mark.parametrize(
    "error, status, code",
    [
        (ModelNotFoundError("m", []), 404, "model_not_found"),
        (RateLimitedError("slow down", retry_after=2.5), 429, "rate_limit_exceeded"),
        (UpstreamTimeoutError("first_byte", 1.0), 504, "upstream_timeout_first_byte"),
        (UpstreamHTTPError("bad", status=500), 502, "upstream_http_error"),
        (AuthenticationError("no", status=401), 502, "upstream_authentication_error"),
        (UpstreamConnectionError("down"), 502, "upstream_connection_error"),
        (StreamProtocolError("garbled"), 502, "stream_protocol_error"),
        (PluginLoadError("broken"), 503, "provider_unavailable"),
    ],
)
def test_chatplug_errors_map_to_statuses(error: Any, status: int, code: str) -> None:
    mapped = api_error(error)
    assert (mapped.status, mapped.code) == (status, code)


def test_rate_limit_retry_after_is_rounded_up() -> None:
    assert api_error(RateLimitedError("x", retry_after=2.5)).headers == {"Retry-After": "3"}
    assert api_error(RateLimitedError("x")).headers["Retry-After"].isdigit()


def test_all_providers_rate_limited_is_429_with_the_shortest_wait() -> None:
    error = AllProvidersFailedError(
        {"a": RateLimitedError("x", retry_after=9), "b": RateLimitedError("y", retry_after=4)}
    )
    mapped = api_error(error)
    assert mapped.status == 429 and mapped.headers == {"Retry-After": "4"}


def test_all_providers_failed_differently_is_502() -> None:
    error = AllProvidersFailedError(
        {"a": RateLimitedError("x"), "b": UpstreamTimeoutError("idle", 1.0)}
    )
    assert api_error(error).status == 502


def test_parse_base_urls() -> None:
    assert parse_base_urls(["a=http://x:1", "b = http://y "]) == {
        "a": "http://x:1",
        "b": "http://y",
    }
    with pytest.raises(click.BadParameter):
        parse_base_urls(["no-equals-sign"])


def test_python_m_chatplug_server_is_the_serve_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chatplug.server", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "--insecure-public" in result.stdout


def test_importing_the_command_does_not_import_aiohttp() -> None:
    code = "import sys; from chatplug.server import serve_command; print('aiohttp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
