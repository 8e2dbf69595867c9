"""Whole answers (``stream: false``) over raw HTTP: message, tool calls, finish, usage."""

from __future__ import annotations

from http_helpers import chat, post


async def test_text_answer_is_the_message_content(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("plain"))
    message = answer.body["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Hi there"}
    assert answer.body["choices"][0]["finish_reason"] == "stop"


async def test_tool_calls_are_assembled_with_null_content(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools"))
    message = answer.body["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'},
        },
    ]
    assert answer.body["choices"][0]["finish_reason"] == "tool_calls"


async def test_text_with_tool_calls_keeps_both(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools-no-finish"))
    message = answer.body["choices"][0]["message"]
    assert message["content"] == "Let me look. "
    assert message["tool_calls"][0]["function"]["name"] == "noop"


async def test_finish_length_is_the_finish_reason(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("length"))
    assert answer.body["choices"][0]["finish_reason"] == "length"
    assert answer.body["choices"][0]["message"]["content"] == "Hello wor"


async def test_reasoning_is_message_reasoning_content(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("reason"))
    message = answer.body["choices"][0]["message"]
    assert message["reasoning_content"] == "let me think more"
    assert message["content"] == "42"


async def test_reported_usage_is_the_plugins_and_marked_reported(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools"))
    assert answer.body["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 7,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 3},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    assert answer.headers["x-chatplug-usage"] == "reported"


async def test_missing_usage_is_estimated_and_marked(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("plain"))
    assert answer.headers["x-chatplug-usage"] == "estimated"
    assert answer.body["usage"]["estimated"] is True
    assert answer.body["usage"]["prompt_tokens"] == 2  # "plain": 5 characters


async def test_headers_and_model_name_who_answered(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("plain", model="text"))
    assert answer.headers["x-chatplug-provider"] == "scripted"
    assert answer.headers["x-chatplug-model"] == "text"
    assert answer.body["model"] == "scripted/text"


async def test_the_id_is_chatplugs_own_not_the_upstreams(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools"))
    assert answer.body["id"].startswith("chatcmpl-")
    assert answer.body["id"] != "up-1"
