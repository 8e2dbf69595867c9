"""The emulator speaks OpenAI's protocol: checked with the official ``openai`` SDK and raw HTTP."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator

import aiohttp
import pytest
from chatplug.emulation import (
    BASE_PATH,
    EmulatorThread,
    RunningEmulator,
    emulator_factory,
    run_emulator,
)
from chatplug_openai.emulator import create_app, reply_pieces

openai = pytest.importorskip("openai")

KEY = "sk-emulator-key-123456"
USER = [{"role": "user", "content": "Quoi de neuf ? ✓"}]


@pytest.fixture
def sdk_emulator() -> Iterator[RunningEmulator]:
    with EmulatorThread(create_app(keys=[KEY])) as running:
        yield running


def sdk(emulator: RunningEmulator, key: str = KEY) -> Any:
    return openai.OpenAI(base_url=emulator.url, api_key=key, max_retries=0, timeout=20)


def test_emulator_is_registered_with_base_path_v1() -> None:
    app = emulator_factory("openai")()
    assert app[BASE_PATH] == "/v1"


def test_sdk_streams_role_content_finish_reason_and_usage(sdk_emulator: RunningEmulator) -> None:
    stream = sdk(sdk_emulator).chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == sdk_emulator.replies[-1] == "".join(reply_pieces(USER))
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(
        reply_pieces(USER)
    )


def test_sdk_stream_without_include_usage_has_no_usage_chunk(sdk_emulator: RunningEmulator) -> None:
    chunks = list(
        sdk(sdk_emulator).chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    )
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_sdk_non_streaming_completion(sdk_emulator: RunningEmulator) -> None:
    result = sdk(sdk_emulator).chat.completions.create(model="gpt-4.1", messages=USER)
    assert result.object == "chat.completion"
    assert result.choices[0].message.content == sdk_emulator.replies[-1]
    assert result.choices[0].finish_reason == "stop"
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_sdk_max_tokens_gives_finish_reason_length(sdk_emulator: RunningEmulator) -> None:
    result = sdk(sdk_emulator).chat.completions.create(model="gpt-4.1", messages=USER, max_tokens=3)
    assert result.choices[0].finish_reason == "length"
    assert result.choices[0].message.content == "".join(reply_pieces(USER)[:3])


def test_sdk_lists_models(sdk_emulator: RunningEmulator) -> None:
    ids = [model.id for model in sdk(sdk_emulator).models.list()]
    assert "gpt-4o-mini" in ids


def test_sdk_wrong_key_is_authentication_error(sdk_emulator: RunningEmulator) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(sdk_emulator, "sk-wrong-key-999999").chat.completions.create(
            model="gpt-4o", messages=USER
        )
    assert caught.value.code == "invalid_api_key"
    assert "sk-wrong-key-999999" not in str(caught.value)


def test_sdk_unknown_model_is_not_found(sdk_emulator: RunningEmulator) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(sdk_emulator).chat.completions.create(model="gpt-99", messages=USER)
    assert caught.value.code == "model_not_found"


def test_sdk_empty_messages_is_bad_request(sdk_emulator: RunningEmulator) -> None:
    with pytest.raises(openai.BadRequestError):
        sdk(sdk_emulator).chat.completions.create(model="gpt-4o", messages=[])


def test_sdk_reply_reflects_the_conversation(sdk_emulator: RunningEmulator) -> None:
    messages = [*USER, {"role": "assistant", "content": "x"}, {"role": "user", "content": "encore"}]
    result = sdk(sdk_emulator).chat.completions.create(model="gpt-4o", messages=messages)
    assert "turn 2" in result.choices[0].message.content
    assert "«encore»" in result.choices[0].message.content


# --- raw HTTP -------------------------------------------------------------------------


async def post(emulator: RunningEmulator, body: Any, headers: Dict[str, str]) -> "tuple[int, Any]":
    async with aiohttp.ClientSession() as session:
        async with session.post(
            emulator.url + "/chat/completions", data=json.dumps(body), headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": USER}, "you must provide a model parameter"),
        ({"model": "gpt-4o"}, "Missing required parameter: 'messages'."),
        ({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}, "role"),
        ({"model": "gpt-4o", "messages": USER, "temperature": 5}, "temperature"),
        ({"model": "gpt-4o", "messages": USER, "stream_options": {}}, "stream_options"),
    ],
)
async def test_invalid_requests_get_400_with_an_openai_error_body(body: Any, message: str) -> None:
    async with run_emulator(create_app()) as emulator:
        status, answer = await post(emulator, body, {"content-type": "application/json"})
    assert status == 400
    assert message in answer["error"]["message"]
    assert answer["error"]["type"] == "invalid_request_error"


async def test_default_app_accepts_no_key_and_any_bearer_key() -> None:
    async with run_emulator(create_app()) as emulator:
        body = {"model": "gpt-4o", "messages": USER, "stream": False}
        assert (await post(emulator, body, {}))[0] == 200
        assert (await post(emulator, body, {"Authorization": "Bearer anything"}))[0] == 200
        assert (await post(emulator, body, {"Authorization": "Basic abc"}))[0] == 401


async def test_require_key_refuses_a_request_without_a_key() -> None:
    async with run_emulator(create_app(require_key=True)) as emulator:
        body = {"model": "gpt-4o", "messages": USER}
        assert (await post(emulator, body, {}))[0] == 401
        assert (await post(emulator, body, {"Authorization": "Bearer k"}))[0] == 200


async def test_models_none_accepts_any_model() -> None:
    async with run_emulator(create_app(models=None)) as emulator:
        status, _ = await post(emulator, {"model": "whatever/x", "messages": USER}, {})
    assert status == 200


async def test_fast_mode_streams_n_deltas() -> None:
    from chatplug.openai_chunks import ChatChunkParser

    async with run_emulator(create_app(fast=500)) as emulator:
        async with aiohttp.ClientSession() as session:
            body = {"model": "gpt-4o", "messages": USER, "stream": True}
            async with session.post(emulator.url + "/chat/completions", json=body) as response:
                data = await response.read()
    parser = ChatChunkParser()
    texts = [item for item in parser.feed(data) + parser.close() if isinstance(item, str)]
    assert len(texts) == 500
    assert "".join(texts) == emulator.replies[-1]
