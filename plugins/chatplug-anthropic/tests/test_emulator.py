"""The emulator speaks the Messages API: raw HTTP requests, Anthropic's error shape."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from typing import Any, AsyncIterator, Dict, Optional, Tuple

import aiohttp
import pytest
from chatplug.emulation import BASE_PATH, RunningEmulator, emulator_factory
from chatplug_anthropic import MessageStream

from .conftest import StartEmulator

HEADERS = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
GOOD: Dict[str, Any] = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hi ✓"}],
}
USE = {"role": "user", "content": "x"}


@pytest.fixture
async def served(
    emulator: RunningEmulator,
) -> AsyncIterator[Tuple[RunningEmulator, aiohttp.ClientSession]]:
    async with aiohttp.ClientSession() as session:
        yield emulator, session


async def post(
    served: Any, body: Any, headers: Optional[Dict[str, str]] = None
) -> Tuple[int, Any, bytes]:
    emulator, session = served
    async with session.post(
        emulator.url + "/v1/messages",
        data=body if isinstance(body, bytes) else json.dumps(body),
        headers=HEADERS if headers is None else headers,
    ) as response:
        raw = await response.read()
        try:
            return response.status, json.loads(raw), raw
        except ValueError:
            return response.status, None, raw


def test_the_emulator_is_registered_without_a_base_path() -> None:
    assert emulator_factory("anthropic")().get(BASE_PATH, "") == ""


async def test_a_non_streaming_request_answers_one_message(served: Any) -> None:
    status, message, _ = await post(served, GOOD)
    assert status == 200
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"] == [{"type": "text", "text": served[0].replies[-1]}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["output_tokens"] == len(served[0].replies[-1].split())


async def test_a_streaming_request_sends_the_named_events_in_order(served: Any) -> None:
    status, _, raw = await post(served, {**GOOD, "stream": True})
    assert status == 200
    names = [line[7:] for line in raw.decode().splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-4:] == [
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    parser = MessageStream()
    text = "".join(item for item in parser.feed(raw) if isinstance(item, str))
    parser.close()
    assert text == served[0].replies[-1]


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


async def test_the_anthropic_version_header_is_required(served: Any) -> None:
    status, answer, _ = await post(served, GOOD, {"content-type": "application/json"})
    assert status == 400
    assert answer["error"]["message"] == "anthropic-version: header is required"


async def test_errors_have_anthropics_shape(served: Any) -> None:
    status, answer, _ = await post(served, {**GOOD, "temperature": 1.5})
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
    served: Any, change: Dict[str, Any], message: str
) -> None:
    body = {**GOOD, **change}
    body = {key: value for key, value in body.items() if value is not None}
    status, answer, _ = await post(served, body)
    assert status == 400
    assert message in answer["error"]["message"]


async def test_an_unknown_model_is_a_404_not_found_error(served: Any) -> None:
    status, answer, _ = await post(served, {**GOOD, "model": "gpt-4o"})
    assert status == 404 and answer["error"]["type"] == "not_found_error"


async def test_a_body_that_is_not_json_is_refused(served: Any) -> None:
    status, answer, _ = await post(served, b"{nope")
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
    served: Any, change: Dict[str, Any], message: str
) -> None:
    status, answer, _ = await post(served, {**GOOD, "tools": TOOLS, **change})
    assert status == 400
    assert message in answer["error"]["message"]


async def test_tool_use_in_the_history_needs_tools(served: Any) -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
    messages = [
        USE,
        {"role": "assistant", "content": [USE_CALL]},
        {"role": "user", "content": [result]},
    ]
    status, answer, _ = await post(served, {**GOOD, "messages": messages})
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
    served: Any, change: Dict[str, Any], message: str
) -> None:
    status, answer, _ = await post(served, {**GOOD, **change})
    assert status == 400
    assert message in answer["error"]["message"]


async def test_a_non_streaming_tool_answer_has_tool_use_blocks(served: Any) -> None:
    body = {**GOOD, "tools": TOOLS, "messages": [{"role": "user", "content": "weather?"}]}
    status, message, _ = await post(served, body)
    assert status == 200 and message["stop_reason"] == "tool_use"
    assert [block["type"] for block in message["content"]] == ["text", "tool_use"]


async def test_keys_refuse_a_wrong_key_and_require_key_a_missing_one(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(keys=["k1"])
    async with aiohttp.ClientSession() as s:
        served = (emulator, s)
        assert (await post(served, GOOD, {**HEADERS, "x-api-key": "k1"}))[0] == 200
        status, answer, _ = await post(served, GOOD, {**HEADERS, "x-api-key": "k2"})
        assert status == 401 and answer["error"]["type"] == "authentication_error"
        status, answer, _ = await post(served, GOOD)
        assert answer["error"]["message"] == "x-api-key header is required"


async def test_the_default_app_accepts_no_key(served: Any) -> None:
    assert (await post(served, GOOD))[0] == 200


async def test_a_scripted_429_carries_retry_after_and_the_rate_limit_type(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(status=429, retry_after="3")
    async with aiohttp.ClientSession() as session:
        async with session.post(
            emulator.url + "/v1/messages", json=GOOD, headers=HEADERS
        ) as response:
            assert response.status == 429
            assert response.headers["retry-after"] == "3"
            assert (await response.json())["error"]["type"] == "rate_limit_error"


async def test_a_scripted_error_event_ends_the_stream_without_message_stop(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(error_event="overloaded_error")
    async with aiohttp.ClientSession() as session:
        served = (emulator, session)
        _, _, raw = await post(served, {**GOOD, "stream": True})
    assert b"event: error" in raw and b"overloaded_error" in raw
    assert b"message_stop" not in raw


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_module_serves_the_emulator_alone() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chatplug_anthropic.emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        assert "Anthropic emulator on" in process.stdout.readline()  # listening from here
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/messages",
            data=json.dumps(GOOD).encode(),
            headers=HEADERS,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["type"] == "message"
    finally:
        process.terminate()
        process.wait(timeout=10)
