"""The three official clients through ``chatplug serve`` to chatplug-openai and its emulator
(tool calls, reasoning, usage, structured output and ``length``, validated like the API)."""

from __future__ import annotations

from typing import AsyncIterator, List

import openai
import pytest
from pydantic import BaseModel
from translated_kit import (
    KEY,
    Served,
    emulated,
    input_after_function_call,
    messages_after_tool_use,
)

anthropic = pytest.importorskip("anthropic", reason="the anthropic package is not installed")
agents = pytest.importorskip("agents", reason="the openai-agents package is not installed")

MODEL = "openai/gpt-4o-mini"
REASONER = "openai/o4-mini"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
TOOL = {"type": "function", "name": "get_weather", "parameters": SCHEMA, "strict": True}
ASK = "Call get_weather, please"


class Person(BaseModel):
    name: str
    age: int


@pytest.fixture
async def gpt(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the emulator needs none
    async for served in emulated("openai"):
        yield served


@pytest.fixture
async def sdk(gpt: Served) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{gpt.url}/v1", api_key=KEY, max_retries=0, timeout=20
    ) as client:
        yield client


async def test_streamed_tool_call_and_real_usage(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.responses.create(model=MODEL, input=ASK, tools=[TOOL], stream=True)
    events = [event async for event in stream]
    completed = events[-1]
    assert completed.type == "response.completed"
    call = completed.response.output[-1]
    assert (call.type, call.name, call.arguments) == (
        "function_call",
        "get_weather",
        '{"city": "city ✓"}',
    )
    assert call.call_id.startswith("call_")  # the upstream's id, unchanged
    usage = completed.response.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0


async def test_tool_round_trip_quotes_the_tool_result(sdk: openai.AsyncOpenAI) -> None:
    first = await sdk.responses.create(model=MODEL, input=ASK, tools=[TOOL])
    history = input_after_function_call(ASK, first, "18°C")
    raw = await sdk.responses.with_raw_response.create(model=MODEL, input=history, tools=[TOOL])
    second = raw.parse()
    assert "18°C" in second.output_text
    assert raw.headers["x-chatplug-usage"] == "reported"


async def test_parse_reads_the_structured_answer(sdk: openai.AsyncOpenAI) -> None:
    parsed = await sdk.responses.parse(model=MODEL, input="Who?", text_format=Person)
    assert parsed.output_parsed == Person(name="name ✓", age=1)


async def test_reasoning_model_streams_a_reasoning_summary(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.responses.create(
        model=REASONER, input="Think", reasoning={"effort": "high"}, stream=True
    )
    events = [event async for event in stream]
    summary = "".join(
        event.delta for event in events if event.type == "response.reasoning_summary_text.delta"
    )
    assert summary.startswith("Thinking about «Think» (high effort)")
    usage = events[-1].response.usage
    assert usage is not None and usage.output_tokens_details.reasoning_tokens > 0


async def test_max_output_tokens_makes_an_incomplete_response(sdk: openai.AsyncOpenAI) -> None:
    response = await sdk.responses.create(model=MODEL, input="Talk", max_output_tokens=2)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


async def test_agents_sdk_runs_a_tool_through_the_openai_provider(gpt: Served) -> None:
    calls: List[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return "18°C"

    agent = agents.Agent(name="forecaster", model=MODEL, tools=[get_weather])
    async with openai.AsyncOpenAI(base_url=f"{gpt.url}/v1", api_key=KEY, max_retries=0) as client:
        config = agents.RunConfig(
            model_provider=agents.OpenAIProvider(openai_client=client), tracing_disabled=True
        )
        result = await agents.Runner.run(agent, ASK, run_config=config)
    assert calls == ["city ✓"]
    assert "18°C" in result.final_output
    assert result.context_wrapper.usage.total_tokens > 0


async def test_anthropic_sdk_tool_round_trip_through_the_openai_provider(gpt: Served) -> None:
    tool = {"name": "get_weather", "description": "The weather", "input_schema": SCHEMA}
    ask = [{"role": "user", "content": ASK}]
    async with anthropic.AsyncAnthropic(base_url=gpt.url, api_key=KEY, max_retries=0) as sdk:
        async with sdk.messages.stream(
            model=MODEL, max_tokens=500, messages=ask, tools=[tool]
        ) as stream:
            first = await stream.get_final_message()
        use = first.content[-1]
        assert (first.stop_reason, use.type, use.input) == (
            "tool_use",
            "tool_use",
            {"city": "city ✓"},
        )
        history = messages_after_tool_use(ask, first, "18°C")
        async with sdk.messages.stream(
            model=MODEL, max_tokens=500, messages=history, tools=[tool]
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            second = await stream.get_final_message()
    assert "18°C" in text
    assert second.stop_reason == "end_turn"
    assert second.usage.input_tokens > 0 and second.usage.output_tokens > 0
