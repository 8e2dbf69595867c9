"""Streamed answers over raw HTTP: plugin events become the chunks OpenAI clients parse."""

from __future__ import annotations

from http_helpers import chat, deltas, post

STREAM = {"stream": True}
USAGE = {"stream": True, "stream_options": {"include_usage": True}}


async def test_text_deltas_follow_a_role_chunk(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("plain", **STREAM))
    assert answer.status == 200
    parts = deltas(answer.body)
    assert parts[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content") or "" for d in parts) == "Hi there"
    assert answer.body[-1] == "[DONE]"


async def test_a_plugin_without_finish_ends_with_stop(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("plain", **STREAM))
    assert answer.body[-2]["choices"][0]["finish_reason"] == "stop"


async def test_finish_length_reaches_the_client(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("length", **STREAM))
    reasons = [e["choices"][0]["finish_reason"] for e in answer.body[:-1]]
    assert reasons[-1] == "length"
    assert set(reasons[:-1]) == {None}


async def test_content_filter_finish_reaches_the_client(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("filtered", **STREAM))
    assert answer.body[-2]["choices"][0]["finish_reason"] == "content_filter"


async def test_tool_call_fragments_carry_index_id_type_and_name_first(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools", **STREAM))
    calls = [call for delta in deltas(answer.body) for call in delta.get("tool_calls", ())]
    assert calls[0] == {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"ci'},
    }
    assert calls[1]["index"] == 1 and calls[1]["id"] == "call_b"
    assert calls[2] == {"index": 0, "function": {"arguments": 'ty": "Paris"}'}}
    assert calls[3] == {"index": 1, "function": {"arguments": ': "UTC"}'}}


async def test_tool_calls_finish_with_tool_calls(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools", **STREAM))
    assert answer.body[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_tool_calls_without_a_finish_end_with_tool_calls(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools-no-finish", **STREAM))
    assert answer.body[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_reasoning_is_sent_as_reasoning_content(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("reason", **STREAM))
    parts = deltas(answer.body)
    assert "".join(d.get("reasoning_content", "") for d in parts) == "let me think more"
    assert "".join(d.get("content") or "" for d in parts) == "42"


async def test_include_usage_sends_the_plugins_usage_in_a_last_chunk(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools", **USAGE))
    last = answer.body[-2]
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 7,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 3},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }


async def test_include_usage_puts_usage_null_on_every_other_chunk(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools", **USAGE))
    assert all(event["usage"] is None for event in answer.body[:-2])


async def test_the_last_usage_event_wins(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("usage-first", **USAGE))
    assert answer.body[-2]["usage"]["prompt_tokens"] == 9


async def test_an_estimated_usage_is_marked(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("plain", **USAGE))
    usage = answer.body[-2]["usage"]
    assert usage["estimated"] is True
    assert usage["completion_tokens"] == 2  # "Hi there": 8 characters


async def test_without_include_usage_no_chunk_has_usage(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("tools", **STREAM))
    assert all("usage" not in event for event in answer.body[:-1])


async def test_headers_name_the_provider_and_model_that_answered(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("plain", model="full", **STREAM))
    assert answer.headers["x-chatplug-provider"] == "scripted"
    assert answer.headers["x-chatplug-model"] == "full"
    assert {e["model"] for e in answer.body[:-1]} == {"scripted/full"}


async def test_a_failure_after_text_is_a_final_error_event_without_done(
    scripted_server: str,
) -> None:
    answer = await post(scripted_server, chat("fail-after", **STREAM))
    assert answer.status == 200
    assert answer.body[-1]["error"]["code"] == "upstream_connection_error"
    assert "[DONE]" not in answer.body


async def test_a_failure_before_anything_gets_its_http_status(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("fail-before", **STREAM))
    assert answer.status == 502
    assert answer.body["error"]["code"] == "upstream_connection_error"
