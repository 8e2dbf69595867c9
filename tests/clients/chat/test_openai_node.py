"""The official openai Node SDK against ``chatplug serve`` in front of chatplug-openai."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict

RunJs = Callable[[str, str], Dict[str, Any]]


def test_streamed_text(run_js: RunJs) -> None:
    result = run_js("openai_sdk.mjs", "stream-text")
    assert "«hello from node»" in result["text"]
    assert result["finish"] == "stop"


def test_include_usage_gives_real_usage(run_js: RunJs) -> None:
    usage = run_js("openai_sdk.mjs", "usage")["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert "estimated" not in usage


def test_streamed_parallel_tool_calls(run_js: RunJs) -> None:
    result = run_js("openai_sdk.mjs", "stream-tools")
    assert result["finish"] == "tool_calls"
    assert [call["name"] for call in result["calls"]] == ["get_weather", "get_weather"]
    assert all(json.loads(call["arguments"]) for call in result["calls"])


def test_a_tool_round_trip(run_js: RunJs) -> None:
    result = run_js("openai_sdk.mjs", "round-trip")
    assert result["first_finish"] == "tool_calls"
    assert "sunny, 21 C" in result["answer"]


def test_max_tokens_ends_with_length(run_js: RunJs) -> None:
    assert run_js("openai_sdk.mjs", "length")["finish"] == "length"


def test_tools_to_a_text_only_provider_are_refused(run_js: RunJs) -> None:
    result = run_js("openai_sdk.mjs", "refused")
    assert (result["status"], result["param"]) == (400, "tools")
