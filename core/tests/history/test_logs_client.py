"""``AsyncClient(log=...)``: each stream recorded as one exchange (the library opt-in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, List, Union

import pytest
from chatplug import AsyncClient, ModelInfo, Registry, UpstreamConnectionError, hookimpl
from chatplug.events import Event, Finish, ReasoningDelta, ToolCallDelta, Usage
from chatplug.history import LogStore, Recorder


class Scripted:
    """A provider whose answer depends on the prompt: ``fail`` breaks after some text,
    ``tools`` calls a tool, anything else reasons, answers and reports usage."""

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo("m1", "scripted", default=True)]

    @hookimpl
    async def stream_completion(
        self, request: Any, session: Any
    ) -> AsyncIterator[Union[str, Event]]:
        prompt = request.messages[-1]["content"]
        if prompt == "fail":
            yield "half an "
            yield "answer"
            raise UpstreamConnectionError("reset by peer", provider="scripted")
        if prompt == "tools":
            yield ToolCallDelta(0, "call_9", "lookup", '{"q": ')
            yield ToolCallDelta(0, arguments="1}")
            yield Finish("tool_calls")
            return
        yield ReasoningDelta("pondering")
        yield "Hello"
        yield " world"
        yield Finish("stop")
        yield Usage(7, 3, cached_input_tokens=2, reasoning_tokens=1)


def client(log: Any) -> AsyncClient:
    registry = Registry(discover=False)
    registry.register("scripted", Scripted())
    return AsyncClient(registry=registry, config=False, retry=1, log=log)


async def test_a_stream_is_recorded_with_everything_it_reported(
    recorder: Recorder, store: LogStore
) -> None:
    async with client(recorder) as chat:
        text = await chat.complete("hi", temperature=0.5)
    assert text == "Hello world"
    (exchange,) = store.latest()
    assert exchange.source == "api"
    assert (exchange.provider, exchange.model) == ("scripted", "m1")
    assert exchange.messages == [{"role": "user", "content": "hi"}]
    assert exchange.answer == "Hello world" and exchange.reasoning == "pondering"
    assert exchange.finish_reason == "stop"
    assert (exchange.input_tokens, exchange.output_tokens) == (7, 3)
    assert (exchange.cached_tokens, exchange.reasoning_tokens) == (2, 1)
    assert exchange.usage_estimated is False
    assert exchange.options == {"temperature": 0.5}
    assert exchange.first_chunk_ms is not None and exchange.total_ms is not None


async def test_tool_calls_are_recorded_in_openai_shape(recorder: Recorder, store: LogStore) -> None:
    async with client(recorder) as chat:
        completion = await chat.respond("tools")
    assert completion.finish_reason == "tool_calls"
    (exchange,) = store.latest()
    assert exchange.tool_calls == [
        {
            "id": "call_9",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": 1}'},
        }
    ]


async def test_a_failed_stream_keeps_its_partial_text(recorder: Recorder, store: LogStore) -> None:
    async with client(recorder) as chat:
        with pytest.raises(UpstreamConnectionError):
            await chat.complete("fail")
    (exchange,) = store.latest()
    assert exchange.answer == "half an answer"
    assert exchange.error_type == "UpstreamConnectionError"
    assert "reset by peer" in (exchange.error_message or "")
    assert exchange.finish_reason is None


async def test_a_stream_left_early_is_recorded_as_stopped(
    recorder: Recorder, store: LogStore
) -> None:
    async with client(recorder) as chat:
        async with chat.stream("hi") as stream:
            async for _ in stream:
                break
    (exchange,) = store.latest()
    assert exchange.error_type == "StreamStopped"
    assert exchange.answer == "Hello"


async def test_events_iteration_is_recorded_too(recorder: Recorder, store: LogStore) -> None:
    async with client(recorder) as chat:
        async with chat.stream("hi") as stream:
            items = [item async for item in stream.events()]
    assert "Hello" in items
    (exchange,) = store.latest()
    assert exchange.answer == "Hello world" and exchange.reasoning == "pondering"


async def test_without_log_nothing_is_written(db_path: Path) -> None:
    async with client(None) as chat:
        assert chat.log is None
        await chat.complete("hi")
    assert not db_path.exists()


async def test_log_true_records_to_the_default_database(db_path: Path) -> None:
    async with client(True) as chat:
        await chat.complete("hi")
    with LogStore(db_path) as store:
        (exchange,) = store.latest()
    assert exchange.answer == "Hello world"


async def test_a_stream_never_iterated_records_nothing(recorder: Recorder, store: LogStore) -> None:
    async with client(recorder) as chat:
        chat.stream("hi")
    assert store.latest() == []


async def test_a_failing_database_never_fails_the_answer(tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    async with client(Recorder(directory)) as chat:  # a directory cannot be opened as a db
        assert await chat.complete("hi") == "Hello world"


def test_log_refuses_what_is_not_a_recorder() -> None:
    with pytest.raises(TypeError, match=r"log must be a chatplug\.history\.Recorder"):
        client("logs.db")
