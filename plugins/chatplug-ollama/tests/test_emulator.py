"""The emulator speaks Ollama's native API: raw HTTP requests, Ollama's error shape."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Dict, Tuple

import aiohttp
import pytest
from chatplug.emulation import BASE_PATH, RunningEmulator, emulator_factory
from chatplug.testing import emulator_process, parse_chunks, raw_request, text_of
from chatplug_ollama import ChatStream

from .conftest import StartEmulator

GOOD: Dict[str, Any] = {"model": "llama3.2", "messages": [{"role": "user", "content": "Hi ✓"}]}


async def post(emulator: RunningEmulator, body: Any, path: str = "/api/chat") -> Tuple[int, bytes]:
    answer = await raw_request(emulator.url + path, body)
    return answer.status, answer.body


def test_the_emulator_is_registered_without_a_base_path() -> None:
    assert emulator_factory("ollama")().get(BASE_PATH, "") == ""


async def test_chat_streams_ndjson_by_default_ending_with_done(emulator: RunningEmulator) -> None:
    status, raw = await post(emulator, GOOD)
    assert status == 200
    lines = [json.loads(line) for line in raw.splitlines()]
    assert all(line["done"] is False for line in lines[:-1])
    assert lines[-1]["done"] is True and lines[-1]["done_reason"] == "stop"
    assert lines[-1]["eval_count"] == len(lines) - 1
    assert text_of(parse_chunks(ChatStream(), [raw])) == emulator.replies[-1]


async def test_stream_false_answers_one_record(emulator: RunningEmulator) -> None:
    status, raw = await post(emulator, {**GOOD, "stream": False})
    answer = json.loads(raw)
    assert status == 200 and answer["done"] is True
    assert answer["message"]["content"] == emulator.replies[-1]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"model": None}, 400, "model is required"),
        ({"model": "nope"}, 404, 'model "nope" not found, try pulling it first'),
        ({"messages": "hi"}, 400, "messages must be an array"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 400, 'invalid role "robot"'),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, 400, "unmarshal"),
        ({"messages": [{"role": "user", "content": "x", "images": ["@@"]}]}, 400, "base64"),
        ({"options": {"temperature": "hot"}}, 400, "temperature"),
        ({"options": {"num_predict": 1.5}}, 400, "num_predict"),
        ({"options": {"stop": "END"}}, 400, "stop"),
        ({"think": True}, 400, "does not support thinking"),
        ({"think": "max"}, 400, "think must be"),
        ({"format": "yaml"}, 400, "invalid format"),
        ({"temperature": 0.5}, 400, "unknown field 'temperature'"),
        ({"tools": [{"type": "function", "function": {}}]}, 400, "function with a name"),
    ],
)
async def test_invalid_bodies_get_ollamas_error_shape(
    emulator: RunningEmulator, change: Dict[str, Any], status: int, message: str
) -> None:
    body = {key: value for key, value in {**GOOD, **change}.items() if value is not None}
    got, raw = await post(emulator, body)
    assert got == status
    assert message in json.loads(raw)["error"]


async def test_tool_call_arguments_in_history_must_be_objects(emulator: RunningEmulator) -> None:
    call = {"function": {"name": "f", "arguments": "{}"}}
    messages = [*GOOD["messages"], {"role": "assistant", "content": "", "tool_calls": [call]}]
    status, raw = await post(emulator, {**GOOD, "messages": messages})
    assert status == 400 and "arguments" in json.loads(raw)["error"]


async def test_a_body_that_is_not_json_is_refused(emulator: RunningEmulator) -> None:
    status, raw = await post(emulator, b"{nope")
    assert status == 400 and "error" in json.loads(raw)


async def test_tags_lists_the_pulled_models(emulator: RunningEmulator) -> None:
    answer = await raw_request(emulator.url + "/api/tags", method="GET")
    names = [model["name"] for model in answer.json()["models"]]
    assert "llama3.2:latest" in names and "qwen3:latest" in names


async def test_show_gives_a_models_capabilities(emulator: RunningEmulator) -> None:
    status, raw = await post(emulator, {"model": "qwen3"}, "/api/show")
    assert status == 200
    assert json.loads(raw)["capabilities"] == ["completion", "tools", "thinking"]
    status, _ = await post(emulator, {"model": "nope"}, "/api/show")
    assert status == 404


async def test_a_scripted_error_record_ends_the_stream_without_done(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(error_event="boom")
    _, raw = await post(emulator, GOOD)
    lines = [json.loads(line) for line in raw.splitlines()]
    assert lines[-1] == {"error": "boom"}
    assert not any(line.get("done") for line in lines)


async def test_a_dropped_connection_cuts_the_body(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator(drop=True)
    with pytest.raises(aiohttp.ClientPayloadError):
        await post(emulator, GOOD)


def test_the_module_serves_the_emulator_alone() -> None:
    with emulator_process("chatplug_ollama.emulator") as served:
        assert "Ollama emulator on" in served.line  # listening from here
        body = json.dumps({**GOOD, "stream": False}).encode()
        request = urllib.request.Request(served.url + "/api/chat", data=body)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["done"] is True
