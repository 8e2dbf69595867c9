"""The official ``openai`` SDK against ``chatplug serve`` (a subprocess) and an upstream."""

from __future__ import annotations

import json

import openai
import pytest
from chatplug.emulation import RunningEmulator
from server_harness import ServerProcess

MESSAGES = [{"role": "user", "content": "hi there"}]
REPLY = "Hello from echo: hi there — ünïcødé ✓"


def sdk(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=30)


def async_sdk(server: ServerProcess) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=30
    )


def test_sync_completion_returns_the_upstream_reply(
    server: ServerProcess, upstream: RunningEmulator
) -> None:
    with sdk(server) as client:
        completion = client.chat.completions.create(model="servertest/echo", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.model == "servertest/echo"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert REPLY in upstream.replies


def test_sync_completion_reports_usage_estimates(server: ServerProcess) -> None:
    with sdk(server) as client:
        completion = client.chat.completions.create(model="servertest/echo", messages=MESSAGES)
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_sync_streaming_yields_role_first_content_then_stop(server: ServerProcess) -> None:
    with sdk(server) as client:
        chunks = list(
            client.chat.completions.create(
                model="servertest/echo",
                messages=[{"role": "user", "content": "count:5:0.05"}],
                stream=True,
            )
        )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "0 1 2 3 4 "
    assert len(chunks) >= 4  # role, at least two content pieces, stop
    assert {chunk.id for chunk in chunks} == {chunks[0].id}
    assert all(chunk.model == "servertest/echo" for chunk in chunks)


async def test_async_completion_returns_the_upstream_reply(server: ServerProcess) -> None:
    async with async_sdk(server) as client:
        completion = await client.chat.completions.create(
            model="servertest/echo", messages=MESSAGES
        )
    assert completion.choices[0].message.content == REPLY


async def test_async_streaming_concatenates_to_the_reply(server: ServerProcess) -> None:
    async with async_sdk(server) as client:
        stream = await client.chat.completions.create(
            model="servertest/echo", messages=MESSAGES, stream=True
        )
        texts = [chunk.choices[0].delta.content or "" async for chunk in stream]
    assert "".join(texts) == REPLY


def test_streaming_with_include_usage_sends_a_usage_chunk(server: ServerProcess) -> None:
    with sdk(server) as client:
        chunks = list(
            client.chat.completions.create(
                model="servertest/echo",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_models_lists_qualified_ids_and_unambiguous_bare_ids(server: ServerProcess) -> None:
    with sdk(server) as client:
        ids = {model.id for model in client.models.list()}
    assert {"servertest/echo", "servertest/other", "servertwo/echo", "servertwo/solo"} <= ids
    assert {"other", "solo"} <= ids
    assert "echo" not in ids  # offered by both providers: ambiguous


def test_models_retrieve_names_the_owner(server: ServerProcess) -> None:
    with sdk(server) as client:
        model = client.models.retrieve("solo")
    assert model.owned_by == "servertwo"


def test_bare_model_id_resolves_to_its_provider(server: ServerProcess) -> None:
    with sdk(server) as client:
        completion = client.chat.completions.create(model="solo", messages=MESSAGES)
    assert completion.model == "servertwo/solo"
    assert completion.choices[0].message.content == REPLY.replace("echo", "solo")


def test_options_are_passed_to_the_provider(server: ServerProcess) -> None:
    with sdk(server) as client:
        completion = client.chat.completions.create(
            model="servertest/echo",
            messages=[{"role": "user", "content": "options"}],
            temperature=0.3,
            max_tokens=50,
            stop=["END"],
            user="alice",
            presence_penalty=0.5,
        )
    content = completion.choices[0].message.content
    assert content is not None
    assert json.loads(content) == {
        "max_tokens": 50,
        "presence_penalty": 0.5,
        "stop": ["END"],
        "temperature": 0.3,
        "user": "alice",
    }


def test_unknown_model_raises_not_found(server: ServerProcess) -> None:
    with sdk(server) as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="servertest/nope", messages=MESSAGES)
    assert caught.value.code == "model_not_found"


def test_upstream_failure_raises_an_api_error_with_status_502(server: ServerProcess) -> None:
    with sdk(server) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model="servertest/echo", messages=[{"role": "user", "content": "status:500"}]
        )
    assert caught.value.status_code == 502


def test_error_after_the_stream_started_raises_in_the_sdk(server: ServerProcess) -> None:
    with sdk(server) as client:
        stream = client.chat.completions.create(
            model="servertest/echo",
            messages=[{"role": "user", "content": "break-after:3"}],
            stream=True,
        )
        texts = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                texts.append(chunk.choices[0].delta.content or "")
    assert "".join(texts).startswith("piece0 ")
    assert caught.value.code in ("upstream_connection_error", "stream_protocol_error")
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "upstream_error"
