"""The provider's hooks against the emulator and scripted upstreams: the request it sends, the
items it yields, keys, errors, proxy, base_url and cancellation."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import aiohttp
import pytest
from chatplug import (
    AuthenticationError,
    RateLimitedError,
    StreamProtocolError,
    UpstreamHTTPError,
)
from chatplug.emulation import RunningEmulator
from chatplug.events import Finish, ReasoningDelta, ResponseMetadata, ToolCallDelta, Usage
from chatplug.testing import CONVERSATION, ForwardProxy, Reply, ScriptedUpstream, wait_until
from chatplug.types import ResponseFormat, Tool
from chatplug_gemini import stream_completion
from chatplug_gemini.emulator import FAULTS, STREAM_ENDS, sign

from .conftest import StartEmulator, chunk, collect, make_request, of_type, sent, text_of

KEY = "AIza-test-0123456789SECRET"
WEATHER = Tool(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = Tool("get_time", "The time now")
HISTORY = list(CONVERSATION)


# --- the request ------------------------------------------------------------------------


async def test_the_stream_endpoint_is_called_with_alt_sse(emulator: RunningEmulator) -> None:
    await collect(make_request(emulator.url, model="gemini-2.5-pro"))
    request = sent(emulator)
    assert request["path"] == "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    assert request["query"] == {"alt": "sse"}
    assert request["headers"]["content-type"] == "application/json"


async def test_the_history_is_sent_as_contents_and_system_instruction(
    emulator: RunningEmulator,
) -> None:
    await collect(make_request(emulator.url, messages=HISTORY))
    body = sent(emulator)["json"]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [content["role"] for content in body["contents"]] == ["user", "model", "user"]


@pytest.mark.parametrize(
    ("environment", "fields", "key"),
    [
        pytest.param({}, {}, None, id="no header without a key"),
        pytest.param(
            {"GEMINI_API_KEY": KEY, "GOOGLE_API_KEY": "AIza-the-other-one"},
            {},
            KEY,
            id="GEMINI_API_KEY first",
        ),
        pytest.param({"GOOGLE_API_KEY": KEY}, {}, KEY, id="GOOGLE_API_KEY without GEMINI_API_KEY"),
        pytest.param(
            {"GEMINI_API_KEY": "AIza-wrong", "MY_KEY": KEY},
            {"settings": {"api_key_env": "MY_KEY"}},
            KEY,
            id="api_key_env names the variable",
        ),
        pytest.param(
            {"GEMINI_API_KEY": KEY},
            {"settings": {"api_key_env": ""}},
            None,
            id="an empty api_key_env never sends a key",
        ),
        pytest.param(
            {"GEMINI_API_KEY": "AIza-wrong"}, {"settings": {"api_key": KEY}}, KEY, id="api_key wins"
        ),
        pytest.param(
            {"GEMINI_API_KEY": "AIza-not-for-the-gateway", "VERTEX_GATEWAY_API_KEY": KEY},
            {"provider": "vertex-gateway"},
            KEY,
            id="another provider id reads its own variable, not the gemini key",
        ),
    ],
)
async def test_the_key_sent_follows_the_settings_and_the_environment_at_request_time(
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    environment: Dict[str, str],
    fields: Dict[str, Any],
    key: Optional[str],
) -> None:
    request = make_request(emulator.url, **fields)
    for name, value in environment.items():  # read when the request is sent
        monkeypatch.setenv(name, value)
    await collect(request)
    assert sent(emulator)["headers"].get("x-goog-api-key") == key


async def test_a_base_url_with_a_path_prefix_keeps_it() -> None:
    reply = Reply.sse([chunk({"text": "ok"}, finish="STOP")], done=False)
    async with ScriptedUpstream(reply) as upstream:
        items = await collect(make_request(upstream.url + "/gateway/google/"))
    assert text_of(items) == "ok"
    assert (
        upstream.requests[0].path
        == "/gateway/google/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    )


# --- answers ----------------------------------------------------------------------------


async def test_the_reply_arrives_intact_through_awkward_splits(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, messages=HISTORY))
    assert text_of(items) == emulator.replies[-1]
    assert "«Ça va ? 日本»" in emulator.replies[-1]


async def test_the_answer_reports_metadata_finish_and_usage(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url))
    assert isinstance(items[0], ResponseMetadata) and items[0].model == "gemini-2.0-flash"
    assert items[-2] == Finish("stop", raw="STOP")
    usage = items[-1]
    assert isinstance(usage, Usage)
    assert usage.output_tokens == 13 and usage.input_tokens == 2


async def test_max_tokens_ends_with_finish_length(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, max_tokens=2))
    assert text_of(items) == "Hello from"
    assert of_type(items, Finish) == [Finish("length", raw="MAX_TOKENS")]


async def test_a_stop_sequence_ends_the_text_before_it(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, stop=(" the",)))
    assert text_of(items) == "Hello from"
    assert of_type(items, Finish) == [Finish("stop", raw="STOP")]


async def test_reasoning_effort_streams_thoughts_before_the_text(
    emulator: RunningEmulator,
) -> None:
    items = await collect(
        make_request(emulator.url, model="gemini-2.5-flash", reasoning_effort="low")
    )
    thoughts = of_type(items, ReasoningDelta)
    assert "".join(t.text for t in thoughts).startswith("Pondering")
    first_text = next(i for i, item in enumerate(items) if isinstance(item, str))
    assert all(items.index(t) < first_text for t in thoughts)
    signature = sign("text", text_of(items))  # the one the emulator issued for this answer
    assert thoughts[-1].redacted and thoughts[-1].metadata == {"thoughtSignature": signature}
    usage = of_type(items, Usage)[-1]
    assert usage.reasoning_tokens == 6
    assert usage.output_tokens == 13 + 6


async def test_a_json_schema_answer_is_json_text(emulator: RunningEmulator) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    items = await collect(
        make_request(emulator.url, response_format=ResponseFormat("json_schema", "a", schema))
    )
    assert json.loads(text_of(items)) == {"answer": "answer ✓"}


async def test_an_image_reaches_the_upstream_as_inline_data(emulator: RunningEmulator) -> None:
    content = [
        {"type": "text", "text": "What is it?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
        },
    ]
    items = await collect(
        make_request(emulator.url, messages=[{"role": "user", "content": content}])
    )
    assert "«What is it?»" in text_of(items)
    assert sent(emulator)["json"]["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}
    }
    assert of_type(items, Usage)[-1].input_tokens == 3 + 258


async def test_the_second_turn_reports_the_first_as_cached(emulator: RunningEmulator) -> None:
    first = [{"role": "user", "content": "Bonjour ✓"}]
    await collect(make_request(emulator.url, messages=first))
    second = [
        *first,
        {"role": "assistant", "content": "Salut"},
        {"role": "user", "content": "Et toi ?"},
    ]
    usage = of_type(await collect(make_request(emulator.url, messages=second)), Usage)[-1]
    assert usage.cached_input_tokens == 2


# --- tool calls ---------------------------------------------------------------------------


async def test_named_tools_come_back_as_parallel_tool_calls(emulator: RunningEmulator) -> None:
    question = [{"role": "user", "content": "Call get_weather and get_time"}]
    items = await collect(make_request(emulator.url, messages=question, tools=(WEATHER, TIME)))
    assert of_type(items, ToolCallDelta) == [
        ToolCallDelta(0, "call_0", "get_weather", '{"city": "city ✓"}'),
        ToolCallDelta(1, "call_1", "get_time", "{}"),
    ]
    assert of_type(items, Finish) == [Finish("tool_calls", raw="STOP")]
    assert text_of(items) == ""


async def test_parallel_tool_calls_false_keeps_one_call(emulator: RunningEmulator) -> None:
    question = [{"role": "user", "content": "Call get_weather and get_time"}]
    request = make_request(
        emulator.url, messages=question, tools=(WEATHER, TIME), parallel_tool_calls=False
    )
    assert [call.name for call in of_type(await collect(request), ToolCallDelta)] == ["get_weather"]


async def test_a_required_tool_choice_forces_a_call(emulator: RunningEmulator) -> None:
    request = make_request(emulator.url, tools=(WEATHER, TIME), tool_choice="get_time")
    assert [call.name for call in of_type(await collect(request), ToolCallDelta)] == ["get_time"]


async def test_a_tool_round_trip_is_accepted_and_answered(emulator: RunningEmulator) -> None:
    question: List[Dict[str, Any]] = [{"role": "user", "content": "Call get_weather and get_time"}]
    calls = of_type(
        await collect(make_request(emulator.url, messages=question, tools=(WEATHER, TIME))),
        ToolCallDelta,
    )
    conversation = [
        *question,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in calls
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": '{"celsius": 21}'},
        {"role": "tool", "tool_call_id": "call_1", "content": "12:00 ✓"},
    ]
    items = await collect(make_request(emulator.url, messages=conversation, tools=(WEATHER, TIME)))
    assert 'get_weather → {"celsius": 21}; get_time → {"result": "12:00 ✓"}' in text_of(items)
    assert of_type(items, Finish) == [Finish("stop", raw="STOP")]


# --- errors --------------------------------------------------------------------------------


async def test_a_refused_key_is_an_authentication_error_naming_the_variables(
    start_emulator: StartEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    emulator = await start_emulator(keys=["AIza-the-right-one"])
    with pytest.raises(AuthenticationError) as caught:
        await collect(make_request(emulator.url))
    error = caught.value
    assert error.status == 400 and "API key not valid" in str(error)
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in (error.hint or "")
    assert "is set but was refused" in (error.hint or "")


async def test_a_missing_key_is_an_authentication_error_saying_it_is_not_set(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(require_key=True)
    with pytest.raises(AuthenticationError) as caught:
        await collect(make_request(emulator.url))
    assert caught.value.status == 403
    assert "is not set" in (caught.value.hint or "")


async def test_the_key_never_appears_in_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    body = json.dumps(
        {"error": {"code": 400, "message": f"bad key {KEY}", "status": "INVALID_ARGUMENT"}}
    )
    async with ScriptedUpstream(Reply.error(400, body)) as upstream:
        with pytest.raises(UpstreamHTTPError) as caught:
            await collect(make_request(upstream.url))
    error = caught.value
    assert upstream.requests[0].headers["x-goog-api-key"] == KEY
    for text in (str(error), error.message, error.body, error.hint or "", repr(error.args)):
        assert KEY not in text
    assert "[redacted]" in str(error)


async def test_429_is_rate_limited_with_the_retry_after(emulator: RunningEmulator) -> None:
    emulator.app[FAULTS].append("rate_limit:5")
    with pytest.raises(RateLimitedError) as caught:
        await collect(make_request(emulator.url))
    assert caught.value.retry_after == 5 and caught.value.retryable
    assert "RESOURCE_EXHAUSTED" in str(caught.value)


async def test_429_without_retry_after_takes_the_retry_info_delay() -> None:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}
    body = {
        "error": {
            "code": 429,
            "message": "quota",
            "status": "RESOURCE_EXHAUSTED",
            "details": [retry],
        }
    }
    async with ScriptedUpstream(Reply.error(429, json.dumps(body))) as upstream:
        with pytest.raises(RateLimitedError) as caught:
            await collect(make_request(upstream.url))
    assert caught.value.retry_after == 31


async def test_503_is_a_retryable_upstream_error_with_the_message(
    emulator: RunningEmulator,
) -> None:
    emulator.app[FAULTS].append("unavailable")
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url))
    error = caught.value
    assert error.status == 503 and error.retryable
    assert error.body == "The model is overloaded. Please try again later."


async def test_an_unknown_model_is_404_with_a_hint(emulator: RunningEmulator) -> None:
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url, model="gemini-9-ultra"))
    assert caught.value.status == 404 and "chatplug models" in (caught.value.hint or "")


async def test_a_non_json_error_body_is_kept_as_an_excerpt() -> None:
    async with ScriptedUpstream(Reply.error(502, "<html>Bad gateway</html>")) as upstream:
        with pytest.raises(UpstreamHTTPError) as caught:
            await collect(make_request(upstream.url))
    assert caught.value.status == 502 and "Bad gateway" in caught.value.body


async def test_an_error_mid_stream_comes_after_the_text_before_it(
    emulator: RunningEmulator,
) -> None:
    emulator.app[FAULTS].append("error_mid_stream")
    items: List[Any] = []
    async with aiohttp.ClientSession() as session:
        with pytest.raises(UpstreamHTTPError, match="internal error") as caught:
            async for item in stream_completion(
                request=make_request(emulator.url), session=session
            ):
                items.append(item)
    assert text_of(items) == emulator.replies[-1] != ""
    assert caught.value.status == 500


async def test_a_truncated_stream_is_a_protocol_error(emulator: RunningEmulator) -> None:
    emulator.app[FAULTS].append("truncate")
    with pytest.raises(StreamProtocolError):
        await collect(make_request(emulator.url))


async def test_a_stream_without_a_finish_reason_is_a_protocol_error() -> None:
    reply = Reply.sse([chunk({"text": "a"}), chunk({"text": "b"})], done=False)
    async with ScriptedUpstream(reply) as upstream:
        with pytest.raises(StreamProtocolError, match="finishReason"):
            await collect(make_request(upstream.url))


async def test_a_dropped_connection_is_an_error_not_an_answer(emulator: RunningEmulator) -> None:
    emulator.app[FAULTS].append("disconnect")
    with pytest.raises(aiohttp.ClientPayloadError):
        await collect(make_request(emulator.url))


async def test_a_blocked_prompt_is_finish_content_filter(emulator: RunningEmulator) -> None:
    emulator.app[FAULTS].append("blocked")
    items = await collect(make_request(emulator.url))
    assert of_type(items, Finish) == [Finish("content_filter", raw="SAFETY")]
    assert text_of(items) == ""


# --- transport -----------------------------------------------------------------------------


async def test_the_proxy_is_used(emulator: RunningEmulator) -> None:
    async with ForwardProxy() as proxy:
        items = await collect(make_request(emulator.url, proxy=proxy.url))
    assert text_of(items) == emulator.replies[-1]
    assert [r.url for r in proxy.requests] == [
        emulator.url + "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    ]


async def test_stopping_early_closes_the_upstream_connection(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator(delay=0.05)
    async with aiohttp.ClientSession() as session:
        stream = stream_completion(request=make_request(emulator.url), session=session)
        first = await stream.__anext__()  # type: ignore[attr-defined]
        await stream.aclose()  # type: ignore[attr-defined]
        assert isinstance(first, ResponseMetadata)
        await wait_until(lambda: emulator.app[STREAM_ENDS])
    assert emulator.app[STREAM_ENDS] == ["disconnected"]
