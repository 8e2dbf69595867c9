"""The three official clients through ``chatplug serve`` to chatplug-anthropic and its
emulator, which validates every request like the real API (including the thinking
signatures it issued): tools, thinking and real usage, end to end."""

from __future__ import annotations

from typing import Any, Dict, List

import openai
import pytest
from translated_kit import (
    KEY,
    Served,
    input_after_function_call,
    messages_after_tool_use,
)

anthropic = pytest.importorskip("anthropic", reason="the anthropic package is not installed")
agents = pytest.importorskip("agents", reason="the openai-agents package is not installed")
REQUESTS = pytest.importorskip("chatplug_anthropic.emulator").REQUESTS
from openai.types.shared import Reasoning  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
ASK = "Use get_weather for Paris"
THINKING = {"type": "enabled", "budget_tokens": 2048}


def thinking_sent_back(served: Served) -> List[Dict[str, Any]]:
    """The thinking blocks the emulator received in the last request's assistant turns."""
    body = served.upstream.app[REQUESTS][-1]["body"]
    return [
        block
        for message in body["messages"]
        if message["role"] == "assistant" and isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "thinking"
    ]


async def test_anthropic_sdk_tool_round_trip_with_thinking(claude: Served) -> None:
    tool = {"name": "get_weather", "description": "The weather", "input_schema": SCHEMA}
    ask = [{"role": "user", "content": ASK}]
    async with anthropic.AsyncAnthropic(base_url=claude.url, api_key=KEY, max_retries=0) as sdk:
        async with sdk.messages.stream(
            model=claude.model, max_tokens=4000, messages=ask, tools=[tool], thinking=THINKING
        ) as stream:
            first = await stream.get_final_message()
        assert [block.type for block in first.content] == ["thinking", "text", "tool_use"]
        assert first.stop_reason == "tool_use"
        history = messages_after_tool_use(ask, first, "18°C")
        async with sdk.messages.stream(
            model=claude.model, max_tokens=4000, messages=history, tools=[tool], thinking=THINKING
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            second = await stream.get_final_message()
    assert "18°C" in text
    assert second.stop_reason == "end_turn"
    assert second.usage.output_tokens > 0
    assert thinking_sent_back(claude)[0]["signature"] == first.content[0].signature


async def test_responses_tool_round_trip_returns_the_thinking_signature(claude: Served) -> None:
    tool = {"type": "function", "name": "get_weather", "parameters": SCHEMA}
    async with openai.AsyncOpenAI(base_url=f"{claude.url}/v1", api_key=KEY, max_retries=0) as sdk:
        first = await sdk.responses.create(
            model=claude.model, input=ASK, tools=[tool], reasoning={"effort": "low"}
        )
        history = input_after_function_call(ASK, first, "18°C")
        raw = await sdk.responses.with_raw_response.create(
            model=claude.model, input=history, tools=[tool], reasoning={"effort": "low"}
        )
    second = raw.parse()
    assert "18°C" in second.output_text
    assert raw.headers["x-chatplug-usage"] == "reported"
    assert second.usage is not None and second.usage.output_tokens > 0
    assert len(thinking_sent_back(claude)) == 1  # the signed thinking went back upstream


async def test_agents_sdk_runs_a_tool_through_the_anthropic_provider(claude: Served) -> None:
    calls: List[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return "18°C"

    agent = agents.Agent(
        name="forecaster",
        instructions="Use the tool.",
        model=claude.model,
        tools=[get_weather],
        model_settings=agents.ModelSettings(reasoning=Reasoning(effort="low")),
    )
    async with openai.AsyncOpenAI(
        base_url=f"{claude.url}/v1", api_key=KEY, max_retries=0
    ) as client:
        config = agents.RunConfig(
            model_provider=agents.OpenAIProvider(openai_client=client), tracing_disabled=True
        )
        result = await agents.Runner.run(agent, ASK, run_config=config)
    assert len(calls) == 1
    assert "18°C" in result.final_output
    assert result.context_wrapper.usage.output_tokens > 0
