"""Recording exchanges: what one row holds, whatever happens to the stream."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from typing import Any, List, Optional

import pytest
from chatplug import AsyncClient, Registry
from chatplug.history import Exchange, LogStore, Recorder
from chatplug.testing import ScriptedUpstream

from ..upstream import echo, expected
from .conftest import Log

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_tokens: Optional[int] = None
    reasoning_tokens: Optional[int] = None


@dataclass(frozen=True)
class ToolCall:
    index: int
    id: str
    name: str
    arguments: str


@dataclass
class Facts:
    """What a stream reports once it has ended (the shape of a client's stream)."""

    provider: str = "acme"
    model: str = "acme-large"
    usage: Optional[Usage] = None
    finish_reason: Optional[str] = None
    tool_calls: Optional[List[ToolCall]] = None
    reasoning: Optional[str] = None


def only(store: LogStore) -> Exchange:
    rows = store.latest()
    assert len(rows) == 1
    return rows[0]


async def test_a_recorded_block_writes_one_row_with_the_streamed_text(
    recorder: Recorder, store: LogStore
) -> None:
    async with recorder.record("hello", provider="acme", model="m") as exchange:
        for piece in ("Hi", " there", "!"):
            exchange.add_text(piece)
    row = only(store)
    assert (row.answer, row.provider, row.model, row.source) == ("Hi there!", "acme", "m", "api")
    assert row.messages == [{"role": "user", "content": "hello"}] and row.prompt == "hello"
    assert row.id == exchange.id and row.conversation_id == exchange.conversation_id


async def test_finish_takes_usage_finish_reason_tool_calls_and_reasoning_from_the_stream(
    recorder: Recorder, store: LogStore
) -> None:
    facts = Facts(
        usage=Usage(17, 12, cached_tokens=5, reasoning_tokens=3),
        finish_reason="tool_calls",
        tool_calls=[ToolCall(0, "call_1", "get_weather", '{"city": "Oslo"}')],
        reasoning="The user wants weather.",
    )
    async with recorder.record("weather in Oslo?", provider="auto") as exchange:
        exchange.finish(facts)
    row = only(store)
    assert (row.provider, row.model, row.finish_reason) == ("acme", "acme-large", "tool_calls")
    assert (row.input_tokens, row.output_tokens) == (17, 12)
    assert (row.cached_tokens, row.reasoning_tokens, row.usage_estimated) == (5, 3, False)
    assert row.reasoning == "The user wants weather."
    assert row.tool_calls == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        }
    ]


def test_usage_from_a_mapping_with_openai_names_and_an_estimate_flag(
    recorder: Recorder, store: LogStore
) -> None:
    record = recorder.begin("hi")
    record.finish(usage={"prompt_tokens": 4, "completion_tokens": 9, "estimated": True})
    recorder.write(record)
    row = only(store)
    assert (row.input_tokens, row.output_tokens, row.usage_estimated) == (4, 9, True)


def test_streamed_reasoning_pieces_are_joined(recorder: Recorder, store: LogStore) -> None:
    record = recorder.begin("think")
    record.add_reasoning("first, ")
    record.add_reasoning("then")
    record.add_text("done")
    recorder.write(record.finish())
    assert (only(store).reasoning, only(store).answer) == ("first, then", "done")


async def test_an_error_in_the_block_is_raised_and_the_partial_text_is_kept(
    recorder: Recorder, store: LogStore
) -> None:
    with pytest.raises(ConnectionResetError):
        async with recorder.record("tell me a story") as exchange:
            exchange.add_text("Once upon ")
            exchange.add_text("a time")
            raise ConnectionResetError("upstream went away")
    row = only(store)
    assert row.failed and row.answer == "Once upon a time"
    assert (row.error_type, row.error_message) == ("ConnectionResetError", "upstream went away")


def test_fail_with_an_explicit_partial_text(store: LogStore, recorder: Recorder) -> None:
    record = recorder.begin("hi")
    record.fail(TimeoutError("no more data"), partial="Hel")
    recorder.write(record)
    row = only(store)
    assert (row.answer, row.error_type, row.finish_reason) == ("Hel", "TimeoutError", None)


async def test_a_cancelled_block_is_written_as_cancelled(
    recorder: Recorder, store: LogStore
) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async with recorder.record("long one") as exchange:
            exchange.add_text("partial")
            started.set()
            await asyncio.sleep(60)

    task = asyncio.ensure_future(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    row = only(store)
    assert (row.error_type, row.answer) == ("CancelledError", "partial")


async def test_an_exchange_finished_inside_the_block_stays_a_success(
    recorder: Recorder, store: LogStore
) -> None:
    with pytest.raises(RuntimeError):
        async with recorder.record("hi") as exchange:
            exchange.add_text("all of it")
            exchange.finish(finish_reason="stop")
            raise RuntimeError("the caller's own bug, after the answer")
    row = only(store)
    assert not row.failed and row.finish_reason == "stop"


async def test_timings_count_from_begin_to_the_first_chunk_and_to_the_end(
    recorder: Recorder, store: LogStore
) -> None:
    async with recorder.record("hi") as exchange:
        await asyncio.sleep(0.05)
        exchange.add_text("a")
        await asyncio.sleep(0.05)
        exchange.add_text("b")
    row = only(store)
    assert row.first_chunk_ms is not None and row.total_ms is not None
    assert 40 <= row.first_chunk_ms < row.total_ms
    assert row.total_ms >= 90


def test_source_and_key_name_are_kept(tmp_path: Any) -> None:
    recorder = Recorder(tmp_path / "serve.db", source="serve", strict=True)
    recorder.write(recorder.begin("hi", key_name="team-a").finish(text="ok"))
    row = recorder.store.latest()[0]
    assert (row.source, row.key_name) == ("serve", "team-a")
    recorder.close()


@pytest.mark.parametrize(
    "name",
    ["api_key", "apiKey", "x-api-key", "key", "access_token", "client_secret", "password",
     "Authorization", "auth", "session_token", "cookie"],
)  # fmt: skip
def test_secret_options_are_masked(log: Log, store: LogStore, name: str) -> None:
    log("hi", "ok", options={name: "sk-live-123", "temperature": 0.5})
    assert only(store).options == {name: "***", "temperature": 0.5}


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens", "top_k", "keywords"])
def test_ordinary_options_that_look_like_secrets_are_kept(
    log: Log, store: LogStore, name: str
) -> None:
    log("hi", "ok", options={name: 42})
    assert only(store).options == {name: 42}


def test_secrets_nested_in_options_are_masked(log: Log, store: LogStore) -> None:
    options = {"headers": {"Authorization": "Bearer abc", "Accept": "text/plain"}, "seed": 1}
    log("hi", "ok", options=options)
    assert only(store).options == {
        "headers": {"Authorization": "***", "Accept": "text/plain"},
        "seed": 1,
    }
    assert "Bearer abc" not in str(store.get(only(store).id))


def _image_message(url: str) -> List[Any]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


def test_an_inline_image_is_stored_as_a_reference(log: Log, store: LogStore, db_path: Any) -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    log(_image_message(url), "a test pattern")
    row = only(store)
    assert row.messages[0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {
            "type": "image_ref",
            "sha256": hashlib.sha256(PNG).hexdigest(),
            "media_type": "image/png",
            "bytes": len(PNG),
        },
    ]
    assert row.prompt == "what is this?"
    assert base64.b64encode(PNG)[:200] not in db_path.read_bytes()


def test_an_image_by_https_url_is_kept_as_is(log: Log, store: LogStore) -> None:
    log(_image_message("https://example.org/cat.png"), "a cat")
    assert only(store).messages == _image_message("https://example.org/cat.png")


def test_recording_does_not_change_the_callers_messages(log: Log) -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    messages = _image_message(url)
    log(messages, "ok")
    assert messages == _image_message(url)


async def test_a_stream_from_a_client_is_logged_with_who_answered(
    acme: Registry, recorder: Recorder, store: LogStore
) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    async with ScriptedUpstream(handler=echo()) as running:
        async with AsyncClient(registry=acme, base_urls={"acme": running.url}) as client:
            async with recorder.record(messages, options={"temperature": 0}) as exchange:
                async with client.stream(messages, model="acme/big", temperature=0) as stream:
                    async for text in stream:
                        exchange.add_text(text)
                exchange.finish(stream)
    row = only(store)
    assert row.answer == expected("Hi")
    assert (row.provider, row.model, row.options) == ("acme", "large", {"temperature": 0})
    assert row.first_chunk_ms is not None and row.error_type is None
