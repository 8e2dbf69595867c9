"""The emulator speaks the Messages API: raw HTTP requests, Anthropic's error shape."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Dict, Optional, Tuple

import aiohttp
import pytest
from chatplug.emulation import BASE_PATH, RunningEmulator, emulator_factory
from chatplug.testing import emulator_process, parse_chunks, raw_request, text_of
from chatplug_anthropic import MessageStream

from .conftest import StartEmulator

HEADERS = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
GOOD: Dict[str, Any] = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hi ✓"}],
}
USE = {"role": "user", "content": "x"}


async def post(
    emulator: RunningEmulator, body: Any, headers: Optional[Dict[str, str]] = None
) -> Tuple[int, Any, bytes]:
    answer = await raw_request(
        emulator.url + "/v1/messages", body, headers=HEADERS if headers is None else headers
    )
    try:
        return answer.status, answer.json(), answer.body
    except ValueError:
        return answer.status, None, answer.body


def test_the_emulator_is_registered_without_a_base_path() -> None:
    assert emulator_factory("anthropic")().get(BASE_PATH, "") == ""


async def test_a_non_streaming_request_answers_one_message(emulator: RunningEmulator) -> None:
    status, message, _ = await post(emulator, GOOD)
    assert status == 200
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"] == [{"type": "text", "text": emulator.replies[-1]}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["output_tokens"] == len(emulator.replies[-1].split())


async def test_a_streaming_request_sends_the_named_events_in_order(
    emulator: RunningEmulator,
) -> None:
    status, _, raw = await post(emulator, {**GOOD, "stream": True})
    assert status == 200
    names = [line[7:] for line in raw.decode().splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-4:] == [
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert text_of(parse_chunks(MessageStream(), [raw])) == emulator.replies[-1]


async def test_the_stream_is_written_in_pieces_that_split_characters(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(delay=0.002)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            emulator.url + "/v1/messages", json={**GOOD, "stream": True}, headers=HEADERS
        ) as response:
            chunks = [chunk async for chunk in response.content.iter_any()]
    assert len(chunks) > 10
    assert any(not valid_utf8(chunk) for chunk in chunks)


def valid_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


async def test_the_anthropic_version_header_is_required(emulator: RunningEmulator) -> None:
    status, answer, _ = await post(emulator, GOOD, {"content-type": "application/json"})
    assert status == 400
    assert answer["error"]["message"] == "anthropic-version: header is required"


async def test_errors_have_anthropics_shape(emulator: RunningEmulator) -> None:
    status, answer, _ = await post(emulator, {**GOOD, "temperature": 1.5})
    assert status == 400
    assert answer["type"] == "error"
    assert answer["error"]["type"] == "invalid_request_error"
    assert "temperature" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": None}, "model: Field required"),
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 100_000}, "maximum allowed number of output tokens"),
        ({"messages": None}, "messages: Field required"),
        ({"messages": []}, "at least one message"),
        ({"messages": [{"role": "system", "content": "x"}]}, 'Unexpected role "system"'),
        ({"messages": [{"role": "robot", "content": "x"}]}, "role"),
        ({"messages": [{"role": "user", "content": ""}]}, "non-empty content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}, "non-empty"),
        ({"frequency_penalty": 0.5}, "frequency_penalty: Extra inputs are not permitted"),
        ({"top_p": "high"}, "top_p"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"system": [{"type": "image"}]}, "system.0"),
        ({"tool_choice": {"type": "auto"}}, "tool_choice may only be specified"),
        ({"metadata": {"session": "x"}}, "metadata"),
    ],
)
async def test_invalid_bodies_are_refused_with_a_400(
    emulator: RunningEmulator, change: Dict[str, Any], message: str
) -> None:
    body = {**GOOD, **change}
    body = {key: value for key, value in body.items() if value is not None}
    status, answer, _ = await post(emulator, body)
    assert status == 400
    assert message in answer["error"]["message"]


async def test_an_unknown_model_is_a_404_not_found_error(emulator: RunningEmulator) -> None:
    status, answer, _ = await post(emulator, {**GOOD, "model": "gpt-4o"})
    assert status == 404 and answer["error"]["type"] == "not_found_error"


async def test_a_body_that_is_not_json_is_refused(emulator: RunningEmulator) -> None:
    status, answer, _ = await post(emulator, b"{nope")
    assert status == 400 and answer["error"]["type"] == "invalid_request_error"


TOOLS = [{"name": "weather", "input_schema": {"type": "object", "properties": {}}}]
USE_CALL = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tools": [{"name": "bad name!", "input_schema": {"type": "object"}}]}, "pattern"),
        ({"tools": TOOLS * 2}, "unique"),
        ({"tools": [{"name": "w", "input_schema": {"type": "string"}}]}, "input_schema.type"),
        ({"tools": TOOLS, "tool_choice": {"type": "tool", "name": "clock"}}, "not found"),
        (
            {"messages": [USE, {"role": "assistant", "content": [USE_CALL]}, USE]},
            "`tool_use` ids were found without `tool_result` blocks",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9"}]}
                ]
            },
            "unexpected `tool_use_id`",
        ),
        ({"messages": [{"role": "user", "content": [USE_CALL]}]}, "not permitted in a user"),
    ],
)
async def test_tool_requests_are_validated(
    emulator: RunningEmulator, change: Dict[str, Any], message: str
) -> None:
    status, answer, _ = await post(emulator, {**GOOD, "tools": TOOLS, **change})
    assert status == 400
    assert message in answer["error"]["message"]


async def test_tool_use_in_the_history_needs_tools(emulator: RunningEmulator) -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
    messages = [
        USE,
        {"role": "assistant", "content": [USE_CALL]},
        {"role": "user", "content": [result]},
    ]
    status, answer, _ = await post(emulator, {**GOOD, "messages": messages})
    assert status == 400 and "must define tools" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 500}}, "greater than or equal to 1024"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "must be greater than"),
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "max_tokens": 2000,
                "temperature": 0.5,
            },
            "temperature",
        ),
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "max_tokens": 2000,
                "model": "claude-3-5-haiku-20241022",
            },
            "does not support extended thinking",
        ),
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "max_tokens": 2000,
                "tools": TOOLS,
                "tool_choice": {"type": "any"},
            },
            "forces tool use",
        ),
    ],
)
async def test_thinking_requests_are_validated(
    emulator: RunningEmulator, change: Dict[str, Any], message: str
) -> None:
    status, answer, _ = await post(emulator, {**GOOD, **change})
    assert status == 400
    assert message in answer["error"]["message"]


async def test_a_non_streaming_tool_answer_has_tool_use_blocks(emulator: RunningEmulator) -> None:
    body = {**GOOD, "tools": TOOLS, "messages": [{"role": "user", "content": "weather?"}]}
    status, message, _ = await post(emulator, body)
    assert status == 200 and message["stop_reason"] == "tool_use"
    assert [block["type"] for block in message["content"]] == ["text", "tool_use"]


async def test_keys_refuse_a_wrong_key_and_require_key_a_missing_one(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(keys=["k1"])
    assert (await post(emulator, GOOD, {**HEADERS, "x-api-key": "k1"}))[0] == 200
    status, answer, _ = await post(emulator, GOOD, {**HEADERS, "x-api-key": "k2"})
    assert status == 401 and answer["error"]["type"] == "authentication_error"
    status, answer, _ = await post(emulator, GOOD)
    assert answer["error"]["message"] == "x-api-key header is required"


async def test_the_default_app_accepts_no_key(emulator: RunningEmulator) -> None:
    assert (await post(emulator, GOOD))[0] == 200


async def test_a_scripted_429_carries_retry_after_and_the_rate_limit_type(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(status=429, retry_after="3")
    answer = await raw_request(emulator.url + "/v1/messages", GOOD, headers=HEADERS)
    assert answer.status == 429
    assert answer.headers["retry-after"] == "3"
    assert answer.json()["error"]["type"] == "rate_limit_error"


async def test_a_scripted_error_event_ends_the_stream_without_message_stop(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(error_event="overloaded_error")
    _, _, raw = await post(emulator, {**GOOD, "stream": True})
    assert b"event: error" in raw and b"overloaded_error" in raw
    assert b"message_stop" not in raw


def test_the_module_serves_the_emulator_alone() -> None:
    with emulator_process("chatplug_anthropic.emulator") as served:
        assert "Anthropic emulator on" in served.line  # listening from here
        request = urllib.request.Request(
            served.url + "/v1/messages", data=json.dumps(GOOD).encode(), headers=HEADERS
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["type"] == "message"
