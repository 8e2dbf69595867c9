"""The Responses and Messages clients (the openai SDK's ``responses``, the OpenAI Agents SDK
with its default Responses model, the ``anthropic`` SDK) through ``chatplug serve`` to the
native plugins and their emulators: streamed tool calls, tool round trips, structured
output and the usage the upstream reported.  (chatplug-anthropic under the Agents SDK and
the anthropic SDK: ``tests/clients/translated/test_emulated_claude.py``.)"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, List

import openai
import pytest
from natives_kit import CITY, MODELS, Native, Reported, reported_usage, requests_of
from pydantic import BaseModel
from server_harness import ServerProcess
from translated_kit import input_after_function_call

anthropic = pytest.importorskip("anthropic", reason="the anthropic package is not installed")
agents = pytest.importorskip("agents", reason="the openai-agents package is not installed")

FUNCTION: Any = {"type": "function", "name": "get_weather", "parameters": CITY}
ASK = "Use get_weather for Paris"


@pytest.fixture
async def sdk(base_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=base_url, api_key="unused", max_retries=0, timeout=60
    ) as client:
        yield client


def last_index(kinds: List[str], kind: str) -> int:
    return len(kinds) - 1 - kinds[::-1].index(kind)


async def test_responses_stream_a_function_call_with_the_reported_usage(
    sdk: openai.AsyncOpenAI, native: Native
) -> None:
    stream = await sdk.responses.create(
        model=native.model, input=ASK, tools=[FUNCTION], stream=True
    )
    events = [event async for event in stream]
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds.index("response.function_call_arguments.delta") < kinds.index(
        "response.function_call_arguments.done"
    )
    assert kinds.index("response.function_call_arguments.done") < last_index(
        kinds, "response.output_item.done"
    )
    completed = events[-1]
    assert completed.type == "response.completed"
    call = completed.response.output[-1]
    assert (call.type, call.name) == ("function_call", "get_weather")
    assert set(json.loads(call.arguments)) == {"city"}
    usage = completed.response.usage
    assert usage is not None and not (usage.model_extra or {}).get("estimated")
    assert Reported(usage.input_tokens, usage.output_tokens) == reported_usage(
        native.provider, native.upstream
    )


async def test_responses_streamed_tool_round_trip_answers_with_the_result(
    sdk: openai.AsyncOpenAI, native: Native
) -> None:
    first = await sdk.responses.create(model=native.model, input=ASK, tools=[FUNCTION])
    history = input_after_function_call(ASK, first, "18°C")
    stream = await sdk.responses.create(
        model=native.model, input=history, tools=[FUNCTION], stream=True
    )
    events = [event async for event in stream]
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert "18°C" in text
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == text


class City(BaseModel):
    city: str


async def test_responses_parse_reads_geminis_structured_answer(sdk: openai.AsyncOpenAI) -> None:
    parsed = await sdk.responses.parse(
        model=MODELS["gemini"], input="Which city?", text_format=City
    )
    assert parsed.output_parsed == City(city="city ✓")  # the emulator's instance of the schema


async def test_agents_sdk_streams_a_run_with_a_function_tool(
    base_url: str, gemini_or_ollama: Native
) -> None:
    native = gemini_or_ollama
    calls: List[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return "18°C"

    agent = agents.Agent(name="forecaster", model=native.model, tools=[get_weather])
    async with openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0) as client:
        config = agents.RunConfig(
            model_provider=agents.OpenAIProvider(openai_client=client), tracing_disabled=True
        )
        result = agents.Runner.run_streamed(agent, ASK, run_config=config)
        deltas = [
            event.data.delta
            async for event in result.stream_events()
            if event.type == "raw_response_event"
            and event.data.type == "response.output_text.delta"
        ]
    assert len(calls) == 1
    assert "18°C" in "".join(deltas) and "18°C" in result.final_output
    usage = result.context_wrapper.usage
    assert len(requests_of(native.provider, native.upstream)) == usage.requests == 2
    reported = [reported_usage(native.provider, native.upstream, which) for which in (0, 1)]
    assert (usage.input_tokens, usage.output_tokens) == (
        sum(r.prompt for r in reported),
        sum(r.completion for r in reported),
    )


async def test_anthropic_sdk_streams_parallel_tool_use_and_answers_the_results(
    serve: ServerProcess, gemini_or_ollama: Native
) -> None:
    native = gemini_or_ollama
    tools: Any = [
        {"name": name, "description": "About a city", "input_schema": CITY}
        for name in ("get_weather", "get_time")
    ]
    results = {"get_weather": "18°C", "get_time": "half past nine"}
    ask: List[Any] = [{"role": "user", "content": "Please get_weather and get_time for Paris"}]
    async with anthropic.AsyncAnthropic(base_url=serve.url, api_key="unused", max_retries=0) as sdk:
        async with sdk.messages.stream(
            model=native.model, max_tokens=500, messages=ask, tools=tools
        ) as stream:
            first = await stream.get_final_message()
        uses = [block for block in first.content if block.type == "tool_use"]
        assert first.stop_reason == "tool_use"
        assert [use.name for use in uses] == ["get_weather", "get_time"]
        assert all(set(use.input) == {"city"} for use in uses)  # type: ignore[arg-type]
        history = [
            *ask,
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in first.content],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": results[use.name]}
                    for use in uses
                ],
            },
        ]
        async with sdk.messages.stream(
            model=native.model, max_tokens=500, messages=history, tools=tools
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            second = await stream.get_final_message()
    assert "18°C" in text and "half past nine" in text
    assert second.stop_reason == "end_turn"
    usage = second.usage
    assert Reported(
        usage.input_tokens + (usage.cache_read_input_tokens or 0), usage.output_tokens
    ) == reported_usage(native.provider, native.upstream)
