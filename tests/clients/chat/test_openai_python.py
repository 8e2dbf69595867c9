"""The official openai Python SDK against ``chatplug serve`` in front of chatplug-openai."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import openai
import pytest
from pydantic import BaseModel
from targets import MODEL, REASONING_MODEL, TEXT_MODEL, WEATHER_TOOL

WEATHER = WEATHER_TOOL
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4"
    "DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def ask(text: str) -> List[Dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def sdk(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=60)


def test_streamed_text_ends_with_the_upstreams_finish(sdk: openai.OpenAI) -> None:
    chunks = list(sdk.chat.completions.create(model=MODEL, messages=ask("hi"), stream=True))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert "«hi»" in text
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_include_usage_gives_the_upstreams_real_usage(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model=MODEL,
            messages=ask("count these words please"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    direct = sdk.chat.completions.create(model=MODEL, messages=ask("count these words please"))
    assert direct.usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        direct.usage.prompt_tokens,
        direct.usage.completion_tokens,
    )
    assert usage.model_extra is None or "estimated" not in usage.model_extra
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_a_whole_answer_says_its_usage_is_reported(sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(model=MODEL, messages=ask("hi"))
    assert raw.headers["x-chatplug-usage"] == "reported"
    assert raw.headers["x-chatplug-provider"] == "openai"
    assert raw.headers["x-chatplug-model"] == "gpt-4o-mini"


def test_max_tokens_ends_with_length(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(model=MODEL, messages=ask("hi"), max_tokens=3)
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens == 3


def test_streamed_parallel_tool_calls_are_assembled_by_the_sdk(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=ask("get_weather in Paris, then get_weather in Rome"),
        tools=[WEATHER],  # type: ignore[list-item]
        stream=True,
    )
    calls: Dict[int, Dict[str, str]] = {}
    finish = None
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or ():
            slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] += call.id or ""
            slot["name"] += (call.function and call.function.name) or ""
            slot["arguments"] += (call.function and call.function.arguments) or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert {call["name"] for call in calls.values()} == {"get_weather"}
    assert len({call["id"] for call in calls.values()}) == 2
    assert all("city" in json.loads(call["arguments"]) for call in calls.values())


def test_a_tool_round_trip(sdk: openai.OpenAI) -> None:
    messages: List[Any] = ask("What is the get_weather in Paris?")
    first = sdk.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.content is None and message.tool_calls
    messages.append(message.model_dump(exclude_none=True))
    messages += [
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}
        for call in message.tool_calls
    ]
    second = sdk.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    assert "sunny, 21 C" in (second.choices[0].message.content or "")
    assert second.choices[0].finish_reason == "stop"


class Weather(BaseModel):
    city: str
    temperature: int


def test_parse_with_a_pydantic_model(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.parse(
        model=MODEL, messages=ask("weather in Paris as JSON"), response_format=Weather
    )
    parsed = answer.choices[0].message.parsed
    assert isinstance(parsed, Weather)


def test_reasoning_arrives_as_reasoning_content(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(model=REASONING_MODEL, messages=ask("think"), stream=True)
    )
    reasoning = "".join(
        (chunk.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
        for chunk in chunks
        if chunk.choices
    )
    assert reasoning


def test_an_image_part_reaches_the_upstream(
    sdk: openai.OpenAI, upstream_requests: List[Dict[str, Any]]
) -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": PIXEL}},
    ]
    sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])  # type: ignore[misc, list-item]
    (request,) = upstream_requests
    parts = request["body"]["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": PIXEL}} in [
        {"type": p["type"], "image_url": {"url": p["image_url"]["url"]}}
        for p in parts
        if p["type"] == "image_url"
    ]


def test_tools_to_a_text_only_provider_are_refused_naming_tools(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=TEXT_MODEL, messages=ask("hi"), tools=[WEATHER])  # type: ignore[list-item]
    assert caught.value.param == "tools"
    assert caught.value.code == "unsupported_capability"


def test_n_above_one_is_refused_naming_n(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=ask("hi"), n=2)
    assert caught.value.param == "n"


def test_models_list_their_capabilities(sdk: openai.OpenAI) -> None:
    models = {model.id: model for model in sdk.models.list()}
    extra = models[MODEL].model_extra or {}
    assert "tools" in extra["capabilities"] and extra["upstream"] == "official"
    assert (models[TEXT_MODEL].model_extra or {})["capabilities"] == []
