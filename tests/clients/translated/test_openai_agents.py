"""The OpenAI Agents SDK with its default model (the Responses API) against ``chatplug serve``:
an agent calls a function tool, the SDK runs it, and the agent answers with its result."""

from __future__ import annotations

from typing import AsyncIterator, List

import chatplug_scripted
import openai
import pytest
from translated_kit import KEY

agents = pytest.importorskip("agents", reason="the openai-agents package is not installed")
from agents.models.openai_responses import OpenAIResponsesModel  # noqa: E402


@pytest.fixture
async def run_config(scripted_url: str) -> AsyncIterator["agents.RunConfig"]:
    async with openai.AsyncOpenAI(
        base_url=f"{scripted_url}/v1", api_key=KEY, max_retries=0, timeout=20
    ) as client:
        provider = agents.OpenAIProvider(openai_client=client)
        assert isinstance(provider.get_model("scripted/agent"), OpenAIResponsesModel)
        yield agents.RunConfig(model_provider=provider, tracing_disabled=True)


def weather_agent(calls: List[str]) -> "agents.Agent[None]":
    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return "18°C"

    return agents.Agent(
        name="forecaster",
        instructions="Answer with the weather.",
        model="scripted/agent",
        tools=[get_weather],
    )


async def test_agent_runs_the_function_tool_and_answers_with_its_result(
    run_config: "agents.RunConfig",
) -> None:
    calls: List[str] = []
    result = await agents.Runner.run(
        weather_agent(calls), "weather in Paris?", run_config=run_config
    )
    assert calls == ["Paris"]
    assert result.final_output == "It is 18°C in Paris."


async def test_agent_sends_the_reasoning_signature_back_with_the_tool_result(
    run_config: "agents.RunConfig",
) -> None:
    await agents.Runner.run(weather_agent([]), "weather in Paris?", run_config=run_config)
    messages = chatplug_scripted.SEEN[-1].messages
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_w1", "content": "18°C"}
    assert messages[-2]["reasoning"] == [
        {"text": "The user wants the weather.", "metadata": {"signature": "sig-123"}}
    ]


async def test_streamed_agent_run_runs_the_tool_and_reports_usage(
    run_config: "agents.RunConfig",
) -> None:
    calls: List[str] = []
    result = agents.Runner.run_streamed(
        weather_agent(calls), "weather in Paris?", run_config=run_config
    )
    deltas = [
        event.data.delta
        async for event in result.stream_events()
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta"
    ]
    assert calls == ["Paris"]
    assert result.final_output == "It is 18°C in Paris."
    assert "".join(deltas) == "Let me check.It is 18°C in Paris."
    usage = result.context_wrapper.usage
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (2, 42, 18)
