"""The OpenAI Agents SDK (Chat Completions model) runs a function tool end to end through
``chatplug serve`` in front of chatplug-openai."""

from __future__ import annotations

from typing import List

import pytest
from targets import MODEL

agents = pytest.importorskip("agents")


async def test_an_agent_calls_a_function_tool_and_answers_with_its_result(base_url: str) -> None:
    import openai

    called: List[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        called.append(city)
        return f"sunny and 21 C in {city}"

    client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0)
    agent = agents.Agent(
        name="weather",
        instructions="Answer with the weather.",
        tools=[get_weather],
        model=agents.OpenAIChatCompletionsModel(model=MODEL, openai_client=client),
    )
    agents.set_tracing_disabled(True)
    result = await agents.Runner.run(agent, "What is the get_weather in Paris?", max_turns=4)
    assert len(called) == 1
    assert "sunny and 21 C" in str(result.final_output)
    await client.close()
