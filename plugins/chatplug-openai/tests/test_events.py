"""Every kind of stream event, from the emulator through the plugin's stream_completion."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.events import Finish, ReasoningDelta, ResponseMetadata, ToolCallDelta, Usage
from chatplug.types import ResponseFormat, Tool
from chatplug_openai.emulator import create_app, reply_pieces

from .conftest import collect, make_request, of_type, texts

WEATHER = Tool(
    "get_weather",
    "The weather in a city",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
)
TIME = Tool("get_time", None, {"type": "object", "properties": {}})
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg"
    "YGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="
)


def user(text: str) -> List[Dict[str, Any]]:
    return [{"role": "user", "content": text}]


def calls(items: List[Any]) -> Dict[int, Dict[str, Any]]:
    """The tool calls assembled from their fragments: index -> id, name, arguments."""
    assembled: Dict[int, Dict[str, Any]] = {}
    for delta in of_type(items, ToolCallDelta):
        call = assembled.setdefault(delta.index, {"arguments": ""})
        if delta.id is not None:
            call["id"], call["name"] = delta.id, delta.name
        call["arguments"] += delta.arguments
    return assembled


async def test_text_finishes_with_stop(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url))
    assert "".join(texts(items)) == emulator.replies[-1]
    assert of_type(items, Finish) == [Finish("stop", "stop")]


async def test_the_upstreams_usage_is_reported(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, messages=user("one two three")))
    (usage,) = of_type(items, Usage)
    assert (usage.input_tokens, usage.output_tokens) == (3, len(reply_pieces(user("x"))))
    assert usage.cached_input_tokens == 0 and usage.reasoning_tokens == 0
    assert usage.raw is not None and usage.raw["total_tokens"] == usage.total_tokens


async def test_the_response_id_and_model_are_reported_first(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, model="gpt-4.1"))
    assert items[0] == ResponseMetadata("chatcmpl-emulator", "gpt-4.1")


async def test_max_tokens_cut_finishes_with_length(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, max_tokens=3))
    assert texts(items) == reply_pieces(user("Hi ✓"))[:3]
    assert of_type(items, Finish) == [Finish("length", "length")]
    assert of_type(items, Usage)[0].output_tokens == 3


async def test_a_tool_named_in_the_prompt_is_called_with_json_arguments(
    emulator: RunningEmulator,
) -> None:
    request = make_request(
        emulator.url, messages=user("Use get_weather please"), tools=(WEATHER, TIME)
    )
    items = await collect(request)
    (call,) = calls(items).values()
    assert call["name"] == "get_weather" and call["id"].startswith("call_")
    assert json.loads(call["arguments"]) == {"city": "city ✓", "days": 1}
    assert texts(items) == []
    assert of_type(items, Finish) == [Finish("tool_calls", "tool_calls")]


async def test_two_tools_named_are_parallel_calls_with_distinct_indexes(
    emulator: RunningEmulator,
) -> None:
    request = make_request(
        emulator.url, messages=user("get_time, then get_weather"), tools=(WEATHER, TIME)
    )
    assembled = calls(await collect(request))
    assert sorted(assembled) == [0, 1]
    assert [assembled[0]["name"], assembled[1]["name"]] == ["get_time", "get_weather"]
    assert assembled[0]["id"] != assembled[1]["id"]
    assert [json.loads(call["arguments"]) for call in assembled.values()] == [
        {},
        {"city": "city ✓", "days": 1},
    ]


async def test_parallel_tool_calls_false_keeps_one_call(emulator: RunningEmulator) -> None:
    request = make_request(
        emulator.url,
        messages=user("get_time and get_weather"),
        tools=(WEATHER, TIME),
        parallel_tool_calls=False,
    )
    assert [call["name"] for call in calls(await collect(request)).values()] == ["get_time"]


async def test_tool_choice_naming_a_function_calls_it(emulator: RunningEmulator) -> None:
    request = make_request(emulator.url, tools=(WEATHER, TIME), tool_choice="get_weather")
    assert [call["name"] for call in calls(await collect(request)).values()] == ["get_weather"]


async def test_a_tool_result_is_answered_with_its_content(emulator: RunningEmulator) -> None:
    first = await collect(
        make_request(emulator.url, messages=user("get_weather?"), tools=(WEATHER,))
    )
    (call,) = calls(first).values()
    conversation = [
        *user("get_weather?"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": "Sunny, 24 °C"},
    ]
    items = await collect(make_request(emulator.url, messages=conversation, tools=(WEATHER,)))
    assert "get_weather «Sunny, 24 °C»" in "".join(texts(items))
    assert of_type(items, Finish) == [Finish("stop", "stop")]


async def test_a_reasoning_model_streams_its_reasoning_before_the_text(
    emulator: RunningEmulator,
) -> None:
    items = await collect(make_request(emulator.url, model="o3-mini"))
    reasoning = of_type(items, ReasoningDelta)
    assert "".join(delta.text for delta in reasoning).startswith("Thinking about «Hi ✓»")
    assert items.index(reasoning[-1]) < items.index(texts(items)[0])
    assert of_type(items, Usage)[0].reasoning_tokens == len(reasoning)


async def test_reasoning_effort_makes_any_model_reason() -> None:
    async with run_emulator(create_app(models=None)) as emulator:
        items = await collect(
            make_request(emulator.url, model="deepseek-r1", reasoning_effort="high")
        )
    assert "(high effort)" in "".join(delta.text for delta in of_type(items, ReasoningDelta))


async def test_json_schema_answer_is_json_with_the_required_properties(
    emulator: RunningEmulator,
) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    request = make_request(
        emulator.url, response_format=ResponseFormat("json_schema", "person", schema, True)
    )
    items = await collect(request)
    assert len(texts(items)) > 1
    assert json.loads("".join(texts(items))) == {"name": "name ✓", "age": 1}


async def test_json_object_answer_is_a_json_object(emulator: RunningEmulator) -> None:
    request = make_request(
        emulator.url,
        messages=user("Reply in JSON ✓"),
        response_format=ResponseFormat("json_object"),
    )
    answer = json.loads("".join(texts(await collect(request))))
    assert answer["turn"] == 1 and "Reply in JSON ✓" in answer["reply"]


async def test_an_image_part_is_seen(emulator: RunningEmulator) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
    ]
    items = await collect(
        make_request(emulator.url, messages=[{"role": "user", "content": content}])
    )
    assert "«What is this?» I see 1 image." in "".join(texts(items))


async def test_a_stop_sequence_at_the_start_is_an_empty_complete_answer(
    emulator: RunningEmulator,
) -> None:
    items = await collect(make_request(emulator.url, stop=("Héllo",)))
    assert texts(items) == []
    assert of_type(items, Finish) == [Finish("stop", "stop")]
