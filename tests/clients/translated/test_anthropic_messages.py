"""The official ``anthropic`` SDK against ``chatplug serve`` (``/v1/messages``)."""

from __future__ import annotations

import json
from typing import AsyncIterator

import chatplug_scripted
import pytest
from translated_kit import KEY, Served, messages_after_tool_use

anthropic = pytest.importorskip("anthropic", reason="the anthropic package is not installed")

AGENT = "scripted/agent"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
ASK = [{"role": "user", "content": "weather in Paris?"}]


def sdk_for(url: str, **auth: str) -> "anthropic.AsyncAnthropic":
    return anthropic.AsyncAnthropic(
        base_url=url, max_retries=0, timeout=20, **(auth or {"api_key": KEY})
    )


@pytest.fixture
async def sdk(scripted_url: str) -> AsyncIterator["anthropic.AsyncAnthropic"]:
    async with sdk_for(scripted_url) as client:
        yield client


async def test_streamed_tool_call_comes_with_thinking_text_and_usage(
    sdk: "anthropic.AsyncAnthropic",
) -> None:
    async with sdk.messages.stream(
        model=AGENT, max_tokens=200, messages=ASK, tools=[WEATHER_TOOL]
    ) as stream:
        kinds = [event.type async for event in stream]
        message = await stream.get_final_message()
    assert kinds[0] == "message_start"
    assert "thinking" in kinds and "signature" in kinds and "input_json" in kinds
    assert kinds[-1] == "message_stop"
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = message.content
    assert (thinking.thinking, thinking.signature) == ("The user wants the weather.", "sig-123")
    assert text.text == "Let me check."
    assert (tool.id, tool.name, tool.input) == ("call_w1", "get_weather", {"city": "Paris"})
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (16, 5, 9)


async def test_tool_round_trip_answers_with_the_tool_result(
    sdk: "anthropic.AsyncAnthropic",
) -> None:
    async with sdk.messages.stream(
        model=AGENT, max_tokens=200, messages=ASK, tools=[WEATHER_TOOL]
    ) as stream:
        first = await stream.get_final_message()
    history = messages_after_tool_use(ASK, first, "18°C")
    async with sdk.messages.stream(
        model=AGENT, max_tokens=200, messages=history, tools=[WEATHER_TOOL]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        second = await stream.get_final_message()
    assert text == "It is 18°C in Paris."
    assert second.stop_reason == "end_turn"


async def test_tool_round_trip_sends_the_thinking_signature_back(
    sdk: "anthropic.AsyncAnthropic",
) -> None:
    first = await sdk.messages.create(
        model=AGENT, max_tokens=200, messages=ASK, tools=[WEATHER_TOOL]
    )
    history = messages_after_tool_use(ASK, first, "18°C")
    await sdk.messages.create(model=AGENT, max_tokens=200, messages=history, tools=[WEATHER_TOOL])
    assert chatplug_scripted.SEEN[-1].messages[1]["reasoning"] == [
        {"text": "The user wants the weather.", "metadata": {"signature": "sig-123"}}
    ]


async def test_parallel_tool_calls_become_tool_use_blocks_in_order(
    sdk: "anthropic.AsyncAnthropic",
) -> None:
    async with sdk.messages.stream(
        model=AGENT,
        max_tokens=200,
        messages=[{"role": "user", "content": "two cities"}],
        tools=[WEATHER_TOOL],
    ) as stream:
        message = await stream.get_final_message()
    assert [(block.id, block.input) for block in message.content] == [
        ("call_a", {"city": "Paris"}),
        ("call_b", {"city": "Rome"}),
    ]


async def test_redacted_reasoning_is_a_redacted_thinking_block(
    sdk: "anthropic.AsyncAnthropic",
) -> None:
    async with sdk.messages.stream(
        model=AGENT, max_tokens=50, messages=[{"role": "user", "content": "secret"}]
    ) as stream:
        message = await stream.get_final_message()
    assert [block.type for block in message.content] == ["redacted_thinking", "text"]
    assert message.content[0].data == "opaque-123"  # type: ignore[union-attr]


async def test_non_streaming_message_is_the_whole_message(
    sdk: "anthropic.AsyncAnthropic",
) -> None:
    message = await sdk.messages.create(
        model=AGENT, max_tokens=100, messages=[{"role": "user", "content": "Ada"}]
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.model == AGENT
    assert [block.text for block in message.content] == ["Hello, Ada!"]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (16, 9)


async def test_finish_length_is_stop_reason_max_tokens(sdk: "anthropic.AsyncAnthropic") -> None:
    message = await sdk.messages.create(
        model=AGENT, max_tokens=5, messages=[{"role": "user", "content": "long"}]
    )
    assert message.stop_reason == "max_tokens"


async def test_content_filter_is_stop_reason_refusal(sdk: "anthropic.AsyncAnthropic") -> None:
    async with sdk.messages.stream(
        model=AGENT, max_tokens=5, messages=[{"role": "user", "content": "filtered"}]
    ) as stream:
        message = await stream.get_final_message()
    assert message.stop_reason == "refusal"


async def test_failure_after_the_start_raises_from_the_stream(
    sdk: "anthropic.AsyncAnthropic",
) -> None:
    with pytest.raises(anthropic.APIStatusError, match="scripted stream broke"):
        async with sdk.messages.stream(
            model=AGENT, max_tokens=50, messages=[{"role": "user", "content": "break"}]
        ) as stream:
            await stream.get_final_message()


async def test_finish_error_without_streaming_is_a_5xx_api_error(
    sdk: "anthropic.AsyncAnthropic",
) -> None:
    with pytest.raises(anthropic.InternalServerError) as caught:
        await sdk.messages.create(
            model=AGENT, max_tokens=50, messages=[{"role": "user", "content": "upstream-error"}]
        )
    assert caught.value.status_code == 502
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


async def test_unknown_model_is_a_not_found_error(sdk: "anthropic.AsyncAnthropic") -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await sdk.messages.create(model="scripted/nope", max_tokens=5, messages=ASK)
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


async def test_server_tools_are_an_invalid_request_error(sdk: "anthropic.AsyncAnthropic") -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await sdk.messages.create(
            model=AGENT,
            max_tokens=5,
            messages=ASK,
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


async def test_tools_to_a_text_only_model_are_an_invalid_request_error(
    sdk: "anthropic.AsyncAnthropic",
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="does not support tools"):
        await sdk.messages.create(
            model="scripted/plain", max_tokens=5, messages=ASK, tools=[WEATHER_TOOL]
        )


async def test_wrong_api_key_is_an_authentication_error(scripted_url: str) -> None:
    async with sdk_for(scripted_url, api_key="wrong") as client:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await client.messages.create(model=AGENT, max_tokens=5, messages=ASK)
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


async def test_bearer_token_is_accepted_too(scripted_url: str) -> None:
    async with sdk_for(scripted_url, auth_token=KEY) as client:
        message = await client.messages.create(
            model=AGENT, max_tokens=5, messages=[{"role": "user", "content": "Bo"}]
        )
    assert message.content[0].text == "Hello, Bo!"  # type: ignore[union-attr]


async def test_request_fields_reach_the_plugin(sdk: "anthropic.AsyncAnthropic") -> None:
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    message = await sdk.messages.create(
        model=AGENT,
        max_tokens=3000,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "fields"},
                    {"type": "image", "source": image},
                ],
            }
        ],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        extra_body={"temperature": 0.3, "top_p": 0.8},  # older clients send them
        thinking={"type": "enabled", "budget_tokens": 2048},
        metadata={"user_id": "u-7"},
    )
    seen = json.loads(message.content[0].text)  # type: ignore[union-attr]
    assert seen["messages"][0] == {"role": "system", "content": "Be brief."}
    assert seen["messages"][1]["content"] == [
        {"type": "text", "text": "fields"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
        },
    ]
    assert seen["tools"][0]["parameters"] == WEATHER_TOOL["input_schema"]
    assert (seen["tool_choice"], seen["parallel_tool_calls"]) == ("required", False)
    assert (seen["max_tokens"], seen["stop"]) == (3000, ["END"])
    assert (seen["temperature"], seen["top_p"]) == (0.3, 0.8)
    assert (seen["reasoning_effort"], seen["user"]) == ("low", "u-7")


async def test_seed_provider_answers_a_streamed_message(seed: Served) -> None:
    async with sdk_for(seed.url) as client:
        async with client.messages.stream(
            model=seed.model, max_tokens=100, messages=[{"role": "user", "content": "Say hi"}]
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            message = await stream.get_final_message()
    assert text == seed.upstream.replies[-1]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0  # the estimate: the seed reports no usage
