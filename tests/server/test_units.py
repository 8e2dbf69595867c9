"""The server's pure parts: chunk encoding, request validation, error mapping, options."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Dict, List

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
    ChunkEncoder,
    api_error,
    parse_chat_request,
    parse_json_body,
)


def events(data: bytes) -> List[Dict[str, Any]]:
    text = data.decode("ascii")
    assert text.endswith("\n\n")
    out = []
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data: ")
        payload = block[len("data: ") :]
        out.append({"done": True} if payload == "[DONE]" else json.loads(payload))
    return out


@pytest.mark.parametrize(
    "text", ["plain", 'quo"te', "back\\slash", "new\nline", "ünïcødé ✓ 日本語 🚀", "\x00\x1f", ""]
)
def test_content_chunk_is_valid_json_with_the_exact_text(text: str) -> None:
    encoder = ChunkEncoder('prov/model-"x"')
    (chunk,) = events(encoder.content(text))
    assert chunk["choices"][0]["delta"] == {"content": text}
    assert chunk["choices"][0]["finish_reason"] is None
    assert chunk["model"] == 'prov/model-"x"'
    assert chunk["object"] == "chat.completion.chunk"
    assert chunk["id"] == encoder.ident


def test_first_write_carries_the_role_then_the_first_content() -> None:
    role, first = events(ChunkEncoder("p/m").first("Hi"))
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert first["choices"][0]["delta"] == {"content": "Hi"}


def test_last_write_is_stop_then_done() -> None:
    stop, done = events(ChunkEncoder("p/m").last())
    assert stop["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert done == {"done": True}


def test_last_write_with_usage_adds_a_usage_chunk() -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    stop, with_usage, done = events(ChunkEncoder("p/m").last(usage))
    assert stop["choices"][0]["finish_reason"] == "stop"
    assert with_usage["choices"] == [] and with_usage["usage"] == usage
    assert done == {"done": True}


def test_error_event_is_the_openai_error_shape() -> None:
    (event,) = events(ChunkEncoder.error(ApiError(502, "boom", type="upstream_error", code="x")))
    assert event["error"]["message"] == "boom"
    assert event["error"]["code"] == "x"


def test_parse_json_body_rejects_invalid_utf8() -> None:
    with pytest.raises(ApiError) as caught:
        parse_json_body(b'{"a": "\xff"}')
    assert caught.value.status == 400


def test_parse_chat_request_collects_only_known_options() -> None:
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
    assert chat.options == {"temperature": 0, "max_tokens": 5, "stop": ["END"], "user": "u"}
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
