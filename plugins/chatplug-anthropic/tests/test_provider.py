"""The provider's hooks against the emulator: what is sent, what comes back, the errors."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import aiohttp
import pytest
from chatplug import (
    AuthenticationError,
    RateLimitedError,
    StreamProtocolError,
    UpstreamHTTPError,
)
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
from chatplug.types import Tool
from chatplug_anthropic import list_models, stream_completion
from chatplug_anthropic.emulator import REDACTED_TRIGGER

from .conftest import MODEL, StartEmulator, collect, make_request, text_of

KEY = "sk-ant-test-0123456789SECRET"
WEATHER = Tool(
    "weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = Tool("clock", "The time", {"type": "object", "properties": {"zone": {"type": "string"}}})
HISTORY = list(CONVERSATION)


def calls(items: List[StreamItem]) -> Dict[int, Dict[str, str]]:
    """Tool calls assembled from their fragments: index → {id, name, arguments}."""
    assembled: Dict[int, Dict[str, str]] = {}
    for delta in of_type(items, ToolCallDelta):
        call = assembled.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
        call["id"] = delta.id or call["id"]
        call["name"] = delta.name or call["name"]
        call["arguments"] += delta.arguments
    return assembled


# --- the catalogue ---------------------------------------------------------------------------


def test_the_catalogue_is_official_with_one_default_and_no_json_schema() -> None:
    models = list_models()
    assert [m.id for m in models if m.default] == [MODEL]
    assert all(m.upstream == "official" and "json_schema" not in m.capabilities for m in models)
    assert all({"tools", "images", "usage"} <= m.capabilities for m in models)


def test_reasoning_is_declared_only_for_thinking_models() -> None:
    reasoning = {m.id for m in list_models() if "reasoning" in m.capabilities}
    assert "claude-sonnet-4-20250514" in reasoning
    assert "claude-3-5-haiku-20241022" not in reasoning


# --- headers and keys ------------------------------------------------------------------------


async def test_the_key_comes_from_anthropic_api_key(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    await collect(make_request(emulator.url))
    headers = sent_request(emulator)["headers"]
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert sent_request(emulator)["path"] == "/v1/messages"


@pytest.mark.parametrize(
    ("environment", "fields", "key"),
    [
        pytest.param({}, {}, None, id="no key header without a key"),
        pytest.param(
            {"ANTHROPIC_API_KEY": "from-env"},
            {"settings": {"api_key": KEY}},
            KEY,
            id="the api_key setting wins over the environment",
        ),
        pytest.param(
            {"MY_KEY": KEY}, {"settings": {"api_key_env": "MY_KEY"}}, KEY, id="api_key_env"
        ),
        pytest.param(
            {"ANTHROPIC_API_KEY": KEY, "CLAUDE_API_KEY": "claude-key"},
            {"provider": "claude"},
            "claude-key",
            id="another provider id never gets the anthropic key",
        ),
    ],
)
async def test_the_key_sent_follows_the_settings_and_the_environment(
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    environment: Dict[str, str],
    fields: Dict[str, Any],
    key: Optional[str],
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    await collect(make_request(emulator.url, **fields))
    assert sent_request(emulator)["headers"].get("x-api-key") == key


async def test_extra_headers_from_the_settings_are_sent(emulator: RunningEmulator) -> None:
    settings = {"headers": {"anthropic-beta": "prompt-caching-2024-07-31"}}
    await collect(make_request(emulator.url, settings=settings))
    assert sent_request(emulator)["headers"]["anthropic-beta"] == "prompt-caching-2024-07-31"


async def test_the_max_tokens_setting_is_the_default(emulator: RunningEmulator) -> None:
    await collect(make_request(emulator.url, settings={"max_tokens": 1234}))
    assert sent_request(emulator)["body"]["max_tokens"] == 1234


# --- answers ---------------------------------------------------------------------------------


async def test_a_conversation_streams_the_emulator_reply(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, HISTORY))
    assert text_of(items) == emulator.replies[-1]
    assert "turn 2: «Ça va ? 日本»" in emulator.replies[-1]
    assert sent_request(emulator)["body"]["system"] == "Be brief."


async def test_metadata_usage_and_finish_are_reported(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url))
    assert items[0] == ResponseMetadata("msg_emu_01", MODEL)
    assert of_type(items, Finish) == [Finish("stop", raw="end_turn")]
    usage = of_type(items, Usage)[-1]
    assert usage.output_tokens == len(text_of(items).split())
    assert usage.input_tokens == 2  # "Hi ✓"


async def test_max_tokens_cuts_the_answer_with_finish_length(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, max_tokens=3))
    assert len(text_of(items).split()) == 3
    assert of_type(items, Finish) == [Finish("length", raw="max_tokens")]


async def test_a_stop_sequence_cuts_the_text_with_finish_stop(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, stop=("turn",)))
    assert text_of(items) == "Claude émulé ✓ — "
    assert of_type(items, Finish) == [Finish("stop", raw="stop_sequence")]


async def test_a_named_tool_is_called_with_arguments_from_its_schema(
    emulator: RunningEmulator,
) -> None:
    messages = [{"role": "user", "content": "What does weather say for Köln?"}]
    items = await collect(make_request(emulator.url, messages, tools=(WEATHER, CLOCK)))
    assembled = calls(items)
    assert list(assembled) == [0]
    assert assembled[0]["name"] == "weather" and assembled[0]["id"].startswith("toolu_")
    assert json.loads(assembled[0]["arguments"]) == {"city": "city ✓"}
    assert of_type(items, Finish) == [Finish("tool_calls", raw="tool_use")]


async def test_two_named_tools_are_called_in_parallel(emulator: RunningEmulator) -> None:
    messages = [{"role": "user", "content": "Use weather and clock"}]
    items = await collect(make_request(emulator.url, messages, tools=(WEATHER, CLOCK)))
    assert [call["name"] for call in calls(items).values()] == ["weather", "clock"]


async def test_parallel_tool_calls_false_gives_one_call(emulator: RunningEmulator) -> None:
    messages = [{"role": "user", "content": "Use weather and clock"}]
    request = make_request(
        emulator.url, messages, tools=(WEATHER, CLOCK), parallel_tool_calls=False
    )
    assert len(calls(await collect(request))) == 1


async def test_tool_choice_required_forces_a_call(emulator: RunningEmulator) -> None:
    request = make_request(emulator.url, tools=(WEATHER, CLOCK), tool_choice="required")
    assert [c["name"] for c in calls(await collect(request)).values()] == ["weather"]


async def test_tool_choice_none_answers_with_text(emulator: RunningEmulator) -> None:
    messages = [{"role": "user", "content": "Use weather"}]
    request = make_request(emulator.url, messages, tools=(WEATHER,), tool_choice="none")
    items = await collect(request)
    assert not calls(items) and of_type(items, Finish)[0].reason == "stop"


async def test_tool_results_go_back_and_are_answered(emulator: RunningEmulator) -> None:
    messages: List[Dict[str, Any]] = [{"role": "user", "content": "Use weather"}]
    first = calls(await collect(make_request(emulator.url, messages, tools=(WEATHER,))))[0]
    messages += [
        {
            "role": "assistant",
            "content": "Calling weather ✓",
            "tool_calls": [
                {
                    "id": first["id"],
                    "type": "function",
                    "function": {"name": "weather", "arguments": first["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": first["id"], "content": "Sunny, 21 °C"},
    ]
    items = await collect(make_request(emulator.url, messages, tools=(WEATHER,)))
    assert "Sunny, 21 °C" in text_of(items)


async def test_a_missing_tool_result_is_refused_by_the_upstream(emulator: RunningEmulator) -> None:
    call = {"id": "toolu_x", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "Use weather"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "user", "content": "never mind"},
    ]
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url, messages, tools=(WEATHER,)))
    assert caught.value.status == 400
    assert "tool_result" in caught.value.body
    assert "invalid_request_error" in caught.value.message


def reasoning_of(items: List[StreamItem]) -> List[Dict[str, Any]]:
    """The reasoning items of an assistant message, assembled from the events."""
    assembled: List[Dict[str, Any]] = []
    text = ""
    for delta in of_type(items, ReasoningDelta):
        text += delta.text
        if delta.metadata:
            assembled.append({"text": text, "redacted": delta.redacted, "metadata": delta.metadata})
            text = ""
    return assembled


async def test_reasoning_effort_streams_thinking_and_its_signature(
    emulator: RunningEmulator,
) -> None:
    items = await collect(make_request(emulator.url, reasoning_effort="low"))
    reasoning = of_type(items, ReasoningDelta)
    assert "".join(r.text for r in reasoning).startswith("The user said «Hi ✓»")
    assert reasoning[-1].text == "" and reasoning[-1].metadata["signature"]
    assert sent_request(emulator)["body"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    first_text = next(i for i, item in enumerate(items) if isinstance(item, str))
    assert all(items.index(r) < first_text for r in reasoning)


async def test_signed_thinking_round_trips(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, reasoning_effort="low"))
    messages = [
        {"role": "user", "content": "Hi ✓"},
        {"role": "assistant", "content": text_of(items), "reasoning": reasoning_of(items)},
        {"role": "user", "content": "Encore"},
    ]
    again = await collect(make_request(emulator.url, messages, reasoning_effort="low"))
    assert "turn 2" in text_of(again)
    assert sent_request(emulator)["body"]["messages"][1]["content"][0]["type"] == "thinking"


async def test_altered_thinking_is_refused_by_the_upstream(emulator: RunningEmulator) -> None:
    items = await collect(make_request(emulator.url, reasoning_effort="low"))
    reasoning = reasoning_of(items)
    reasoning[0]["text"] += " (edited)"
    messages = [
        {"role": "user", "content": "Hi ✓"},
        {"role": "assistant", "content": text_of(items), "reasoning": reasoning},
        {"role": "user", "content": "Encore"},
    ]
    with pytest.raises(UpstreamHTTPError, match="invalid_request_error") as caught:
        await collect(make_request(emulator.url, messages, reasoning_effort="low"))
    assert "signature" in caught.value.body


async def test_redacted_thinking_streams_and_round_trips(emulator: RunningEmulator) -> None:
    messages: List[Dict[str, Any]] = [{"role": "user", "content": REDACTED_TRIGGER}]
    items = await collect(make_request(emulator.url, messages, reasoning_effort="low"))
    redacted = of_type(items, ReasoningDelta)
    assert len(redacted) == 1 and redacted[0].redacted and redacted[0].metadata["data"]
    messages += [
        {"role": "assistant", "content": text_of(items), "reasoning": reasoning_of(items)},
        {"role": "user", "content": "Encore"},
    ]
    assert text_of(await collect(make_request(emulator.url, messages, reasoning_effort="low")))


async def test_an_image_is_sent_as_a_base64_block(emulator: RunningEmulator) -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, part]}]
    items = await collect(make_request(emulator.url, messages))
    assert "What is it?" in text_of(items)


async def test_an_image_type_anthropic_refuses_is_an_upstream_400(
    emulator: RunningEmulator,
) -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url, [{"role": "user", "content": [part]}]))
    assert caught.value.status == 400 and "media_type" in caught.value.body


async def test_prompt_cache_reports_cached_input_tokens_on_the_second_request(
    emulator: RunningEmulator,
) -> None:
    messages = [
        {"role": "system", "content": "Long stable rules ✓"},
        {"role": "user", "content": "x"},
    ]
    request = make_request(emulator.url, messages, options={"prompt_cache": True})
    first = of_type(await collect(request), Usage)[-1]
    second = of_type(await collect(request), Usage)[-1]
    assert first.cached_input_tokens == 0 and first.raw["cache_creation_input_tokens"] == 4
    assert second.cached_input_tokens == 4
    assert second.input_tokens == first.input_tokens == 5


# --- errors ----------------------------------------------------------------------------------


async def test_429_with_retry_after_is_rate_limited(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator(status=429, retry_after="7")
    with pytest.raises(RateLimitedError) as caught:
        await collect(make_request(emulator.url))
    assert caught.value.retry_after == 7
    assert "rate_limit_error" in caught.value.message


async def test_529_overloaded_is_a_retryable_error_with_a_hint(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(status=529)
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url))
    assert caught.value.status == 529 and caught.value.retryable
    assert "overloaded" in (caught.value.hint or "")
    assert caught.value.body == "Overloaded"


async def test_a_refused_key_names_the_variable_and_never_shows_the_key(
    start_emulator: StartEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    emulator = await start_emulator(keys=["sk-ant-other"])
    with pytest.raises(AuthenticationError) as caught:
        await collect(make_request(emulator.url))
    assert "ANTHROPIC_API_KEY" in (caught.value.hint or "")
    assert "set but was refused" in (caught.value.hint or "")
    assert KEY not in str(caught.value) + (caught.value.hint or "")


async def test_an_unknown_model_is_a_404_naming_it(emulator: RunningEmulator) -> None:
    with pytest.raises(UpstreamHTTPError) as caught:
        await collect(make_request(emulator.url, model="claude-9"))
    assert caught.value.status == 404 and "claude-9" in caught.value.body


async def test_an_overloaded_error_event_mid_stream_comes_after_the_text(
    start_emulator: StartEmulator,
) -> None:
    items: List[StreamItem] = []
    emulator = await start_emulator(error_event="overloaded_error")
    with pytest.raises(UpstreamHTTPError) as caught:
        async with aiohttp.ClientSession() as session:
            request = make_request(emulator.url)
            async for item in stream_completion(request=request, session=session):
                items.append(item)
    assert caught.value.status == 529 and caught.value.retryable
    assert text_of(items) and emulator.replies[-1].startswith(text_of(items))


async def test_a_rate_limit_error_event_is_rate_limited(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator(error_event="rate_limit_error")
    with pytest.raises(RateLimitedError):
        await collect(make_request(emulator.url))


async def test_a_truncated_stream_is_a_protocol_error(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator(truncate=True)
    with pytest.raises(StreamProtocolError, match="message_stop"):
        await collect(make_request(emulator.url))
