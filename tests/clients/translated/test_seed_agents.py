"""The OpenAI Agents SDK with its default (Responses) model through ``chatplug serve`` to a
seed provider (a text-only web chat) and its emulator: an agent without tools answers with
the provider's text, and its usage is the server's estimate."""

from __future__ import annotations

import openai
import pytest
from translated_kit import KEY, Served

agents = pytest.importorskip("agents", reason="the openai-agents package is not installed")


async def test_agent_without_tools_answers_with_the_seed_providers_text(seed: Served) -> None:
    agent = agents.Agent(name="greeter", instructions="Be brief.", model=seed.model)
    async with openai.AsyncOpenAI(
        base_url=f"{seed.url}/v1", api_key=KEY, max_retries=0, timeout=20
    ) as client:
        config = agents.RunConfig(
            model_provider=agents.OpenAIProvider(openai_client=client), tracing_disabled=True
        )
        result = agents.Runner.run_streamed(agent, "Say hi", run_config=config)
        deltas = [
            event.data.delta
            async for event in result.stream_events()
            if event.type == "raw_response_event"
            and event.data.type == "response.output_text.delta"
        ]
    assert result.final_output == "".join(deltas) == seed.upstream.replies[-1]
    usage = result.context_wrapper.usage
    assert usage.requests == 1 and usage.output_tokens > 0
