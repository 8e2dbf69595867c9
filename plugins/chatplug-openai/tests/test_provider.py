"""The provider against local upstreams: payload, headers, errors, proxy, base_url, cancel."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List, Optional

import aiohttp
import pytest
from chatplug import (
    AuthenticationError,
    CompletionRequest,
    RateLimitedError,
    StreamProtocolError,
    UpstreamHTTPError,
)
from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.testing import CONVERSATION, ForwardProxy, Reply, ScriptedUpstream, collect_items
from chatplug.testing import sent_request as sent
from chatplug_openai.emulator import DISCONNECTS, create_app, reply_pieces
from chatplug_openai.provider import stream_chat

from .conftest import chunk, make_request, texts

KEY = "sk-test-0123456789abcdefSECRET"
HISTORY = list(CONVERSATION)


async def collect(request: CompletionRequest) -> List[str]:
    """The text the provider streams for ``request``."""
    return texts(await collect_items(stream_chat, request))


# --- the request --------------------------------------------------------------------


async def test_history_is_sent_as_messages_not_flattened(emulator: RunningEmulator) -> None:
    await collect(make_request(emulator.url, messages=HISTORY))
    assert sent(emulator)["body"]["messages"] == HISTORY


async def test_system_option_is_prepended_as_a_system_message(emulator: RunningEmulator) -> None:
    await collect(make_request(emulator.url, options={"system": "You are terse."}))
    messages = sent(emulator)["body"]["messages"]
    assert messages[0] == {"role": "system", "content": "You are terse."}
    assert messages[1]["role"] == "user"


async def test_stream_and_usage_are_requested(emulator: RunningEmulator) -> None:
    await collect(make_request(emulator.url, model="gpt-4.1"))
    body = sent(emulator)["body"]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-4.1"


async def test_allowed_options_pass_through_and_others_do_not(emulator: RunningEmulator) -> None:
    options = {
        "temperature": 0.2,
        "max_tokens": 50,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "seed": 7,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "user": "u-1",
        "system": "s",
        "api_key": "sneaky",
        "stream": False,
    }
    await collect(make_request(emulator.url, options=options))
    body = sent(emulator)["body"]
    for name in (
        "temperature",
        "max_tokens",
        "top_p",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "user",
    ):
        assert body[name] == options[name]
    assert "api_key" not in body and "system" not in body
    assert body["stream"] is True


@pytest.mark.parametrize(
    ("environment", "fields", "authorization"),
    [
        pytest.param({}, {}, None, id="no header without a key"),
        pytest.param({"OPENAI_API_KEY": KEY}, {}, f"Bearer {KEY}", id="OPENAI_API_KEY"),
        pytest.param(
            {"OPENAI_API_KEY": "sk-wrong", "MY_KEY": KEY},
            {"settings": {"api_key_env": "MY_KEY"}},
            f"Bearer {KEY}",
            id="api_key_env names the variable",
        ),
        pytest.param(
            {"OPENAI_API_KEY": KEY},
            {"settings": {"api_key_env": ""}},
            None,
            id="an empty api_key_env never sends a key",
        ),
        pytest.param(
            {"OPENAI_API_KEY": KEY},
            {"provider": "ollama"},
            None,
            id="other provider ids never get the openai key",
        ),
        pytest.param(
            {"GROQ_API_KEY": KEY},
            {"provider": "groq"},
            f"Bearer {KEY}",
            id="other provider ids read their own key variable",
        ),
    ],
)
async def test_the_key_sent_follows_the_settings_and_the_environment_at_request_time(
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    environment: Dict[str, str],
    fields: Dict[str, Any],
    authorization: Optional[str],
) -> None:
    request = make_request(emulator.url, **fields)
    for name, value in environment.items():  # read when the request is sent
        monkeypatch.setenv(name, value)
    await collect(request)
    assert sent(emulator)["headers"].get("authorization") == authorization


async def test_extra_headers_setting_is_sent(emulator: RunningEmulator) -> None:
    settings = {"headers": {"HTTP-Referer": "https://example.org", "X-Title": "chatplug"}}
    await collect(make_request(emulator.url, settings=settings))
    headers = sent(emulator)["headers"]
    assert headers["http-referer"] == "https://example.org"
    assert headers["x-title"] == "chatplug"


async def test_base_url_with_its_own_path_is_honoured() -> None:
    reply = Reply.sse([chunk("ok"), chunk(finish="stop")])
    async with ScriptedUpstream(reply) as upstream:
        texts = await collect(make_request(upstream.url + "/proxy/openai/v1/"))
    assert texts == ["ok"]
    assert upstream.requests[0].path == "/proxy/openai/v1/chat/completions"
    assert upstream.requests[0].method == "POST"


# --- the stream ---------------------------------------------------------------------


async def test_reply_arrives_intact_through_awkward_splits(emulator: RunningEmulator) -> None:
    texts = await collect(make_request(emulator.url, messages=HISTORY))
    assert "".join(texts) == emulator.replies[-1] == "".join(reply_pieces(HISTORY))
    assert len(texts) == len(reply_pieces(HISTORY))


async def test_max_tokens_cut_reply_ends_cleanly(emulator: RunningEmulator) -> None:
    texts = await collect(make_request(emulator.url, options={"max_tokens": 2}))
    assert "".join(texts) == emulator.replies[-1] == "".join(reply_pieces(HISTORY)[:2])


async def test_stream_without_done_is_a_stream_protocol_error() -> None:
    async with ScriptedUpstream(Reply.sse([chunk("a"), chunk(finish="stop")], done=False)) as up:
        with pytest.raises(StreamProtocolError, match="DONE"):
            await collect(make_request(up.url))


async def test_in_stream_error_is_raised_after_the_text_before_it() -> None:
    error = {"error": {"message": "overloaded", "type": "server_error", "code": 503}}
    pieces: List[Any] = []
    async with ScriptedUpstream(Reply.sse([chunk("part"), error])) as upstream:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(UpstreamHTTPError, match="overloaded") as caught:
                async for piece in stream_chat(make_request(upstream.url), session):
                    pieces.append(piece)
    assert texts(pieces) == ["part"]
    assert caught.value.status == 503


# --- HTTP errors --------------------------------------------------------------------


def openai_error(message: str, kind: str, code: Any = None) -> str:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


async def test_401_is_authentication_error_naming_the_env_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with run_emulator(create_app(keys=["sk-the-right-one-0000"])) as emulator:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        with pytest.raises(AuthenticationError) as caught:
            await collect(make_request(emulator.url))
    error = caught.value
    assert error.status == 401
    assert "OPENAI_API_KEY" in (error.hint or "")
    assert "Incorrect API key provided" in str(error)


async def test_401_without_a_key_says_the_variable_is_not_set() -> None:
    async with run_emulator(create_app(require_key=True)) as emulator:
        with pytest.raises(AuthenticationError) as caught:
            await collect(make_request(emulator.url, provider="groq"))
    assert "GROQ_API_KEY is not set" in (caught.value.hint or "")


async def test_401_with_keys_turned_off_says_to_configure_api_key_env() -> None:
    async with run_emulator(create_app(require_key=True)) as emulator:
        with pytest.raises(AuthenticationError) as caught:
            await collect(make_request(emulator.url, provider="lan", settings={"api_key_env": ""}))
    assert "api_key_env" in (caught.value.hint or "")
    assert "[providers.lan]" in (caught.value.hint or "")


async def test_the_key_never_appears_in_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    echoing = Reply.error(
        401,
        openai_error(
            f"Incorrect API key provided: {KEY}", "invalid_request_error", "invalid_api_key"
        ),
    )
    async with ScriptedUpstream(echoing) as upstream:
        with pytest.raises(AuthenticationError) as caught:
            await collect(make_request(upstream.url))
    error = caught.value
    assert upstream.requests[0].headers["authorization"] == f"Bearer {KEY}"
    for text in (str(error), error.message, error.body, error.hint or "", repr(error.args)):
        assert KEY not in text
    assert "[redacted]" in str(error)


async def test_429_is_rate_limited_with_retry_after_and_openai_message() -> None:
    body = openai_error("Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded")
    async with ScriptedUpstream(Reply.error(429, body, retry_after=7)) as upstream:
        with pytest.raises(RateLimitedError) as caught:
            await collect(make_request(upstream.url))
    error = caught.value
    assert error.retry_after == 7
    assert error.retryable
    assert "Rate limit reached for gpt-4o-mini" in str(error)


async def test_429_insufficient_quota_is_not_retried() -> None:
    body = openai_error(
        "You exceeded your current quota", "insufficient_quota", "insufficient_quota"
    )
    async with ScriptedUpstream(Reply.error(429, body)) as upstream:
        with pytest.raises(RateLimitedError) as caught:
            await collect(make_request(upstream.url))
    assert not caught.value.retryable
    assert "quota" in (caught.value.hint or "")


async def test_500_is_a_retryable_upstream_http_error_with_the_message() -> None:
    body = openai_error("The server had an error while processing your request.", "server_error")
    async with ScriptedUpstream(Reply.error(500, body)) as upstream:
        with pytest.raises(UpstreamHTTPError) as caught:
            await collect(make_request(upstream.url))
    error = caught.value
    assert error.status == 500 and error.retryable
    assert error.body == "The server had an error while processing your request."


async def test_404_unknown_model_says_how_to_declare_models(emulator: RunningEmulator) -> None:
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url, model="gpt-nope"))
    assert caught.value.status == 404
    assert "gpt-nope" in str(caught.value)
    assert "models" in (caught.value.hint or "")


async def test_non_json_error_body_is_kept_as_an_excerpt() -> None:
    async with ScriptedUpstream(Reply.error(502, "<html>Bad gateway</html>")) as upstream:
        with pytest.raises(UpstreamHTTPError) as caught:
            await collect(make_request(upstream.url))
    assert caught.value.status == 502
    assert "Bad gateway" in caught.value.body


# --- transport ----------------------------------------------------------------------


async def test_proxy_is_used_for_the_request(emulator: RunningEmulator) -> None:
    async with ForwardProxy() as proxy:
        texts = await collect(make_request(emulator.url, proxy=proxy.url))
    assert "".join(texts) == emulator.replies[-1]
    assert [r.url for r in proxy.requests] == [emulator.url + "/chat/completions"]


async def test_stopping_early_closes_the_upstream_connection() -> None:
    async with run_emulator(create_app(delay=0.05)) as emulator:
        async with aiohttp.ClientSession() as session:
            stream = stream_chat(make_request(emulator.url), session)
            await stream.__anext__()  # the response metadata
            second = await stream.__anext__()
            await stream.aclose()  # type: ignore[attr-defined]
            assert second == "Héllo"
            for _ in range(200):
                if emulator.app[DISCONNECTS]:
                    break
                await asyncio.sleep(0.05)
        assert emulator.app[DISCONNECTS] == ["/v1/chat/completions"]
