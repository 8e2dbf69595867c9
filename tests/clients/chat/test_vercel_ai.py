"""The Vercel AI SDK (``@ai-sdk/openai-compatible``, which validates every chunk with a
schema) against ``chatplug serve`` in front of chatplug-openai."""

from __future__ import annotations

from typing import Any, Callable, Dict

RunJs = Callable[[str, str], Dict[str, Any]]


def test_stream_text_with_usage(run_js: RunJs) -> None:
    result = run_js("vercel_ai.mjs", "stream-text")
    assert result["errors"] == []
    assert "«hello from the AI SDK»" in result["text"]
    assert result["finishReason"] == "stop"
    assert result["usage"]["inputTokens"] > 0 and result["usage"]["outputTokens"] > 0


def test_stream_text_runs_a_tool_and_answers_with_its_result(run_js: RunJs) -> None:
    result = run_js("vercel_ai.mjs", "stream-tool")
    assert result["errors"] == []
    assert result["toolCalls"] == [
        {"name": "get_weather", "input": {"city": result["executed"][0]}}
    ]
    assert result["firstStepFinish"] == "tool-calls"
    assert result["steps"] == 2
    assert "sunny in" in result["text"]
