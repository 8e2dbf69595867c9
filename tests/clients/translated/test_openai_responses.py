"""The official ``openai`` SDK's Responses API against ``chatplug serve`` (``/v1/responses``)."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Dict, List

import chatplug_scripted
import openai
import pytest
from pydantic import BaseModel
from translated_kit import KEY, Served, input_after_function_call

AGENT = "scripted/agent"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


class Person(BaseModel):
    name: str
    age: int


@pytest.fixture
async def sdk(scripted_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{scripted_url}/v1", api_key=KEY, max_retries=0, timeout=20
    ) as client:
        yield client


async def events_of(stream: Any) -> List[Any]:
    return [event async for event in stream]


async def test_streamed_events_come_in_the_documented_order(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.responses.create(
        model=AGENT, input="weather in Paris?", tools=[WEATHER_TOOL], stream=True
    )
    kinds = [event.type for event in await events_of(stream)]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]


async def test_streamed_events_are_numbered_from_zero(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.responses.create(
        model=AGENT, input="weather in Paris?", tools=[WEATHER_TOOL], stream=True
    )
    numbers = [event.sequence_number for event in await events_of(stream)]
    assert numbers == list(range(len(numbers)))


async def test_completed_event_carries_the_output_and_the_upstream_usage(
    sdk: openai.AsyncOpenAI,
) -> None:
    stream = await sdk.responses.create(
        model=AGENT, input="weather in Paris?", tools=[WEATHER_TOOL], stream=True
    )
    completed = (await events_of(stream))[-1].response
    assert completed.status == "completed"
    assert completed.model == AGENT
    assert [item.type for item in completed.output] == ["reasoning", "message", "function_call"]
    assert completed.output[0].summary[0].text == "The user wants the weather."
    assert completed.output_text == "Let me check."
    call = completed.output[2]
    assert (call.call_id, call.name, call.arguments) == (
        "call_w1",
        "get_weather",
        '{"city": "Paris"}',
    )
    usage = completed.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (21, 9, 30)
    assert usage.input_tokens_details.cached_tokens == 5
    assert usage.output_tokens_details.reasoning_tokens == 4
    assert "estimated" not in usage.model_dump()  # the plugin's own numbers


async def test_stream_helper_accumulates_the_final_response(sdk: openai.AsyncOpenAI) -> None:
    async with sdk.responses.stream(
        model=AGENT, input="weather in Paris?", tools=[WEATHER_TOOL]
    ) as stream:
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert deltas == ["Let me check."]
    call = final.output[-1]
    assert call.type == "function_call"
    assert call.parsed_arguments == {"city": "Paris"}  # strict tool: the SDK parsed it


async def test_tool_round_trip_answers_with_the_tool_result(sdk: openai.AsyncOpenAI) -> None:
    first = await sdk.responses.create(model=AGENT, input="weather in Paris?", tools=[WEATHER_TOOL])
    history = input_after_function_call("weather in Paris?", first, "18°C")
    second = await sdk.responses.create(model=AGENT, input=history, tools=[WEATHER_TOOL])
    assert second.output_text == "It is 18°C in Paris."
    assert second.status == "completed"


async def test_interleaved_parallel_calls_keep_their_own_arguments(
    sdk: openai.AsyncOpenAI,
) -> None:
    response = await sdk.responses.create(model=AGENT, input="two cities", tools=[WEATHER_TOOL])
    calls = [(item.call_id, item.arguments) for item in response.output]
    assert calls == [("call_a", '{"city": "Paris"}'), ("call_b", '{"city": "Rome"}')]


async def test_streamed_interleaved_calls_complete_with_their_own_arguments(
    sdk: openai.AsyncOpenAI,
) -> None:
    async with sdk.responses.stream(
        model=AGENT, input="two cities", tools=[WEATHER_TOOL]
    ) as stream:
        final = await stream.get_final_response()
    assert [item.parsed_arguments for item in final.output] == [  # type: ignore[union-attr]
        {"city": "Paris"},
        {"city": "Rome"},
    ]


async def test_redacted_reasoning_is_a_reasoning_item_without_summary(
    sdk: openai.AsyncOpenAI,
) -> None:
    response = await sdk.responses.create(model=AGENT, input="secret")
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].summary == []  # type: ignore[union-attr]
    assert response.output_text == "Done."


async def test_tool_round_trip_sends_the_reasoning_signature_back(
    sdk: openai.AsyncOpenAI,
) -> None:
    first = await sdk.responses.create(model=AGENT, input="weather in Paris?", tools=[WEATHER_TOOL])
    history = input_after_function_call("weather in Paris?", first, "18°C")
    await sdk.responses.create(model=AGENT, input=history, tools=[WEATHER_TOOL])
    assert chatplug_scripted.SEEN[-1].messages[1]["reasoning"] == [
        {"text": "The user wants the weather.", "metadata": {"signature": "sig-123"}}
    ]


async def test_parse_fills_a_pydantic_model_from_a_json_schema_answer(
    sdk: openai.AsyncOpenAI,
) -> None:
    parsed = await sdk.responses.parse(model=AGENT, input="Who?", text_format=Person)
    assert parsed.output_parsed == Person(name="Ada", age=36)


async def test_non_streaming_response_is_the_whole_response_object(
    sdk: openai.AsyncOpenAI,
) -> None:
    response = await sdk.responses.create(model=AGENT, input="Ada", instructions="Be brief.")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == "Hello, Ada!"
    assert response.instructions == "Be brief."
    assert response.usage is not None and response.usage.total_tokens == 30


async def test_finish_length_is_an_incomplete_response(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.responses.create(model=AGENT, input="long", stream=True)
    last = (await events_of(stream))[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details.reason == "max_output_tokens"
    assert last.response.output_text == "This answer is cut"


async def test_content_filter_is_an_incomplete_response(sdk: openai.AsyncOpenAI) -> None:
    response = await sdk.responses.create(model=AGENT, input="filtered")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "content_filter"


async def test_finish_error_is_a_failed_response(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.responses.create(model=AGENT, input="upstream-error", stream=True)
    last = (await events_of(stream))[-1]
    assert last.type == "response.failed"
    assert last.response.error is not None
    assert "overloaded" in last.response.error.message


async def test_failure_after_the_start_ends_with_response_failed(
    sdk: openai.AsyncOpenAI,
) -> None:
    stream = await sdk.responses.create(model=AGENT, input="break", stream=True)
    events = await events_of(stream)
    assert events[-1].type == "response.failed"
    assert "scripted stream broke" in events[-1].response.error.message
    assert events[-1].response.output[0].content[0].text == "Half an ans"


async def test_previous_response_id_is_refused_with_400(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.responses.create(model=AGENT, input="hi", previous_response_id="resp_1")
    assert caught.value.param == "previous_response_id"


async def test_hosted_tools_are_refused_with_400(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.responses.create(model=AGENT, input="hi", tools=[{"type": "web_search"}])
    assert caught.value.param == "tools[0]"


async def test_tools_to_a_text_only_model_are_refused_with_400(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.responses.create(model="scripted/plain", input="hi", tools=[WEATHER_TOOL])
    assert "does not support tools" in caught.value.message


async def test_request_fields_reach_the_plugin(sdk: openai.AsyncOpenAI) -> None:
    response = await sdk.responses.create(
        model=AGENT,
        instructions="Be brief.",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "fields"}]},
        ],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        max_output_tokens=50,
        temperature=0.5,
        top_p=0.9,
        reasoning={"effort": "low"},
        metadata={"trace": "t1"},
        user="u-1",
    )
    seen: Dict[str, Any] = json.loads(response.output_text)
    assert seen["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "fields"},
    ]
    assert [tool["name"] for tool in seen["tools"]] == ["get_weather"]
    assert seen["tools"][0]["strict"] is True
    assert (seen["tool_choice"], seen["parallel_tool_calls"]) == ("get_weather", False)
    assert (seen["max_tokens"], seen["temperature"], seen["top_p"]) == (50, 0.5, 0.9)
    assert (seen["reasoning_effort"], seen["user"]) == ("low", "u-1")
    assert seen["metadata"] == {"trace": "t1"}


async def test_json_schema_text_format_reaches_the_plugin(sdk: openai.AsyncOpenAI) -> None:
    schema = Person.model_json_schema()
    response = await sdk.responses.create(
        model=AGENT,
        input="fields",
        text={"format": {"type": "json_schema", "name": "person", "schema": schema}},
    )
    assert response.output_text == '{"name": "Ada", "age": 36}'  # the plugin's JSON answer


async def test_image_input_reaches_the_plugin_as_an_image_part(sdk: openai.AsyncOpenAI) -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    response = await sdk.responses.create(
        model=AGENT,
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "fields"},
                    {"type": "input_image", "image_url": image, "detail": "low"},
                ],
            }
        ],
    )
    content = json.loads(response.output_text)["messages"][0]["content"]
    assert content[1] == {"type": "image_url", "image_url": {"url": image, "detail": "low"}}


async def test_seed_provider_answers_a_streamed_response(seed: Served) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{seed.url}/v1", api_key=KEY, max_retries=0, timeout=20
    ) as client:
        stream = await client.responses.create(model=seed.model, input="Say hi", stream=True)
        events = await events_of(stream)
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == seed.upstream.replies[-1]
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == text
