"""LangChain's ``ChatOpenAI`` against ``chatplug serve`` in front of chatplug-openai."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from targets import MODEL

langchain_openai = pytest.importorskip("langchain_openai")
ChatOpenAI = langchain_openai.ChatOpenAI


def chat(base_url: str, **kwargs: object) -> "ChatOpenAI":
    return ChatOpenAI(
        model=MODEL, base_url=base_url, api_key="unused", max_retries=0, timeout=60, **kwargs
    )


class Weather(BaseModel):
    city: str
    temperature: int


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_invoke_returns_the_answer_and_real_usage(base_url: str) -> None:
    message = chat(base_url).invoke("hello from langchain")
    assert "«hello from langchain»" in message.content
    assert message.usage_metadata is not None and message.usage_metadata["input_tokens"] > 0
    assert "estimated" not in message.response_metadata["token_usage"]
    assert message.response_metadata["finish_reason"] == "stop"


def test_bind_tools_gives_tool_calls(base_url: str) -> None:
    message = chat(base_url).bind_tools([get_weather]).invoke("get_weather in Paris please")
    (call,) = message.tool_calls
    assert call["name"] == "get_weather" and "city" in call["args"]
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_streamed_tool_calls_are_assembled(base_url: str) -> None:
    model = chat(base_url).bind_tools([get_weather])
    merged = None
    for chunk in model.stream("get_weather in Paris and get_weather in Rome"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert [call["name"] for call in merged.tool_calls] == ["get_weather", "get_weather"]


def test_with_structured_output_parses_a_pydantic_model(base_url: str) -> None:
    answer = chat(base_url).with_structured_output(Weather).invoke("weather in Paris")
    assert isinstance(answer, Weather)


def test_stream_usage_reports_the_upstreams_usage(base_url: str) -> None:
    chunks = list(chat(base_url, stream_usage=True).stream("count these words"))
    usage = [chunk.usage_metadata for chunk in chunks if chunk.usage_metadata]
    assert len(usage) == 1
    assert usage[0]["input_tokens"] > 0 and usage[0]["output_tokens"] > 0
