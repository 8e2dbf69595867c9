"""The provider's hooks against the emulator: what is sent, what comes back, the errors."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import aiohttp
import pytest
from chatplug import RateLimitedError, StreamProtocolError, UpstreamError, UpstreamHTTPError
from chatplug.emulation import RunningEmulator
from chatplug.events import (
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    StreamItem,
    ToolCallDelta,
    Usage,
)
from chatplug.testing import CONVERSATION, of_type, sent_request
from chatplug.types import ResponseFormat, Tool
from chatplug_ollama import stream_completion

from .conftest import StartEmulator, collect, make_request, text_of

WEATHER = Tool(
    "weather", "The weather", {"type": "object", "properties": {"city": {"type": "string"}}}
)
CLOCK = Tool("clock", "The time", {"type": "object", "properties": {"zone": {"type": "string"}}})
HISTORY = list(CONVERSATION)


async def test_a_conversation_streams_the_emulator_reply(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, HISTORY))
    assert text_of(items) == emulator.replies[-1]
    assert "turn 2: «Ça va ? 日本»" in emulator.replies[-1]
    assert sent_request(emulator)["path"] == "/api/chat"
    assert sent_request(emulator)["body"]["messages"] == HISTORY


async def test_model_finish_and_usage_are_reported(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url))
    assert items[0] == ResponseMetadata(model="llama3.2")
    assert of_type(items, Finish) == [Finish("stop", raw="stop")]
    usage = of_type(items, Usage)[-1]
    assert (usage.input_tokens, usage.output_tokens) == (2, len(text_of(items).split()))


async def test_max_tokens_is_num_predict_and_cuts_with_finish_length(
    emulator: RunningEmulator,
) -> None:
    items = await collect(make_request(emulator.url, max_tokens=3))
    assert sent_request(emulator)["body"]["options"] == {"num_predict": 3}
    assert len(text_of(items).split()) == 3
    assert of_type(items, Finish) == [Finish("length", raw="length")]


async def test_a_stop_sequence_cuts_the_text(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, stop=("turn",)))
    assert text_of(items) == "Ollama émulé ✓ — "


async def test_named_tools_are_called_each_with_its_index(emulator: RunningEmulator) -> None:
    messages = [{"role": "user", "content": "Use weather and clock"}]
    items = await collect(make_request(emulator.url, messages, tools=(WEATHER, CLOCK)))
    calls = of_type(items, ToolCallDelta)
    assert [(c.index, c.name) for c in calls] == [(0, "weather"), (1, "clock")]
    assert json.loads(calls[0].arguments) == {"city": "city ✓"}
    assert of_type(items, Finish) == [Finish("tool_calls", raw="stop")]
    assert text_of(items) == ""


async def test_tool_results_go_back_and_are_answered(emulator: RunningEmulator) -> None:
    messages: List[Dict[str, Any]] = [{"role": "user", "content": "Use weather"}]
    call = of_type(
        await collect(make_request(emulator.url, messages, tools=(WEATHER,))), ToolCallDelta
    )
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call[0].id,
                    "type": "function",
                    "function": {"name": "weather", "arguments": call[0].arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call[0].id, "content": "Sunny, 21 °C"},
    ]
    items = await collect(make_request(emulator.url, messages, tools=(WEATHER,)))
    assert "Sunny, 21 °C" in text_of(items)
    assert sent_request(emulator)["body"]["messages"][-1]["tool_name"] == "weather"


async def test_tools_on_a_model_without_them_are_refused_by_the_server(
    emulator: RunningEmulator,
) -> None:
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url, model="gemma3", tools=(WEATHER,)))
    assert caught.value.status == 400 and "does not support tools" in caught.value.body


async def test_reasoning_effort_streams_thinking(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, model="qwen3", reasoning_effort="medium"))
    assert sent_request(emulator)["body"]["think"] is True
    assert "".join(r.text for r in of_type(items, ReasoningDelta)) == "The user said «Hi ✓» ✓."


async def test_an_image_is_sent_inline(emulator: RunningEmulator) -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "What?"}, part]}]
    items = await collect(make_request(emulator.url, messages, model="gemma3"))
    assert "«What?»" in text_of(items)
    assert sent_request(emulator)["body"]["messages"][0]["images"] == ["iVBORw0KGgo="]


async def test_a_json_schema_is_sent_as_format(emulator: RunningEmulator) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = ResponseFormat("json_schema", name="x", schema=schema)
    await collect(make_request(emulator.url, response_format=fmt))
    assert sent_request(emulator)["body"]["format"] == schema


async def test_a_key_is_sent_as_bearer_when_set(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await collect(make_request(emulator.url))
    assert "authorization" not in sent_request(emulator)["headers"]
    monkeypatch.setenv("OLLAMA_API_KEY", "ol-key")
    await collect(make_request(emulator.url))
    assert sent_request(emulator)["headers"]["authorization"] == "Bearer ol-key"


async def test_another_provider_id_reads_its_own_key_variable(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "ol-key")
    monkeypatch.setenv("GPU_BOX_API_KEY", "box-key")
    await collect(make_request(emulator.url, provider="gpu-box"))
    assert sent_request(emulator)["headers"]["authorization"] == "Bearer box-key"


async def test_an_unknown_model_is_a_404_with_a_pull_hint(emulator: RunningEmulator) -> None:
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url, model="nope"))
    assert caught.value.status == 404
    assert caught.value.body == 'model "nope" not found, try pulling it first'
    assert "ollama pull" in (caught.value.hint or "")


async def test_429_with_retry_after_is_rate_limited(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator(status=429, retry_after="7")
    with pytest.raises(RateLimitedError) as caught:
        await collect(make_request(emulator.url))
    assert caught.value.retry_after == 7


async def test_503_is_a_retryable_error(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator(status=503)
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url))
    assert caught.value.retryable and caught.value.body == "server busy, please try again"


async def test_an_error_record_mid_stream_comes_after_the_text(
    start_emulator: StartEmulator,
) -> None:
    items: List[StreamItem] = []
    emulator = await start_emulator(error_event="CUDA error: out of memory")
    with pytest.raises(UpstreamError, match="out of memory"):
        async with aiohttp.ClientSession() as session:
            request = make_request(emulator.url)
            async for item in stream_completion(request=request, session=session):
                items.append(item)
    assert text_of(items) and emulator.replies[-1].startswith(text_of(items))


async def test_a_truncated_stream_is_a_protocol_error(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator(truncate=True)
    with pytest.raises(StreamProtocolError, match="done record"):
        await collect(make_request(emulator.url))
