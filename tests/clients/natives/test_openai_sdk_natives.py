"""The official openai Python SDK through ``chatplug serve`` to each native plugin
(chatplug-anthropic, chatplug-gemini, chatplug-ollama) and its emulator: the usage the
upstream reported, the finish reason its stop reason maps to, and streamed parallel tool
calls that go back with their results and are answered."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Optional, Tuple

import openai
import pytest
from natives_kit import Native, Reported, function_tool, reported_usage

TOOLS: List[Any] = [
    function_tool("get_weather", "The weather in a city"),
    function_tool("get_time", "The local time in a city"),
]
BOTH_TOOLS = "Please get_weather and get_time for Paris"


@pytest.fixture
def sdk(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=60)


def ask(text: str) -> List[Dict[str, Any]]:
    return [{"role": "user", "content": text}]


def collect(chunks: Iterable[Any]) -> Tuple[str, Dict[int, Dict[str, str]], Optional[str], Any]:
    """A streamed answer as the SDK's chunks give it: text, tool calls by index (their
    fragments joined), finish reason, and the usage chunk's usage."""
    text, calls, finish, usage = "", {}, None, None  # type: ignore[var-annotated]
    for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or ():
                slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] += call.id or ""
                slot["name"] += (call.function and call.function.name) or ""
                slot["arguments"] += (call.function and call.function.arguments) or ""
            finish = choice.finish_reason or finish
    return text, calls, finish, usage


def test_streamed_usage_is_the_usage_the_upstream_reported(
    sdk: openai.OpenAI, native: Native
) -> None:
    stream = sdk.chat.completions.create(
        model=native.model,
        messages=ask("count these words please"),
        stream=True,
        stream_options={"include_usage": True},
    )
    _, _, _, usage = collect(stream)
    assert usage is not None
    assert usage.model_extra is None or "estimated" not in usage.model_extra
    reported = reported_usage(native.provider, native.upstream)
    assert Reported(usage.prompt_tokens, usage.completion_tokens) == reported
    assert usage.total_tokens == reported.prompt + reported.completion


def test_a_whole_answer_has_the_reported_usage_and_says_so(
    sdk: openai.OpenAI, native: Native
) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model=native.model, messages=ask("how many tokens is this?")
    )
    answer = raw.parse()
    assert raw.headers["x-chatplug-usage"] == "reported"
    assert raw.headers["x-chatplug-provider"] == native.provider
    assert answer.usage is not None
    assert Reported(answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        reported_usage(native.provider, native.upstream)
    )


def test_a_streamed_text_answer_ends_with_stop(sdk: openai.OpenAI, native: Native) -> None:
    text, calls, finish, _ = collect(
        sdk.chat.completions.create(model=native.model, messages=ask("Hello ✓"), stream=True)
    )
    assert text == native.upstream.replies[-1]
    assert "Hello ✓" in text
    assert (calls, finish) == ({}, "stop")


def test_max_tokens_ends_with_length(sdk: openai.OpenAI, native: Native) -> None:
    answer = sdk.chat.completions.create(
        model=native.model, messages=ask("tell me a long story"), max_tokens=3
    )
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and 0 < answer.usage.completion_tokens <= 3
    assert answer.usage.completion_tokens == reported_usage(native.provider, native.upstream)[1]


def test_streamed_parallel_tool_calls_end_with_tool_calls(
    sdk: openai.OpenAI, native: Native
) -> None:
    stream = sdk.chat.completions.create(
        model=native.model, messages=ask(BOTH_TOOLS), tools=TOOLS, stream=True
    )
    _, calls, finish, _ = collect(stream)
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert [calls[0]["name"], calls[1]["name"]] == ["get_weather", "get_time"]
    assert len({calls[0]["id"], calls[1]["id"]}) == 2 and all(c["id"] for c in calls.values())
    assert all(set(json.loads(c["arguments"])) == {"city"} for c in calls.values())


def test_a_streamed_tool_round_trip_is_answered_with_the_tool_results(
    sdk: openai.OpenAI, native: Native
) -> None:
    messages = ask(BOTH_TOOLS)
    _, calls, finish, _ = collect(
        sdk.chat.completions.create(model=native.model, messages=messages, tools=TOOLS, stream=True)
    )
    assert finish == "tool_calls"
    results = {"get_weather": "sunny, 21 C", "get_time": "half past nine"}
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
                for call in calls.values()
            ],
        }
    )
    messages += [
        {"role": "tool", "tool_call_id": call["id"], "content": results[call["name"]]}
        for call in calls.values()
    ]
    stream = sdk.chat.completions.create(
        model=native.model,
        messages=messages,
        tools=TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, again, finish, usage = collect(stream)
    assert (again, finish) == ({}, "stop")
    assert "sunny, 21 C" in text and "half past nine" in text
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == reported_usage(
        native.provider, native.upstream
    )
