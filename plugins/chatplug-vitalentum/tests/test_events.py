"""What the provider reports besides text: the finish reason and the response metadata."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, List, Optional

import chatplug_vitalentum
from chatplug.emulation import RunningEmulator
from chatplug.events import Finish, ResponseMetadata, StreamItem
from chatplug.testing import Reply, ScriptedUpstream, collect_items, completion_request, text_of
from chatplug.types import WEB_CHAT
from chatplug_vitalentum import stream_completion


async def items_from(base_url: str) -> List[StreamItem]:
    request = completion_request(base_url, provider="vitalentum", model="gpt-3.5-turbo", timeout=10)
    return await collect_items(stream_completion, request)


def chunk(content: Optional[str] = None, finish: Optional[str] = None) -> Dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def test_the_emulators_answer_ends_with_finish_stop(
    emulator: Callable[..., Awaitable[RunningEmulator]],
) -> None:
    upstream = await emulator()
    items = await items_from(upstream.url)
    assert items[0] == ResponseMetadata("chatcmpl-emulator", "gpt-3.5-turbo")
    assert text_of(items) == upstream.replies[-1]
    assert items[-1] == Finish("stop", "stop")


async def test_an_upstream_finish_reason_length_is_reported() -> None:
    body = Reply.sse([json.dumps(chunk("Hel")), json.dumps(chunk(finish="length"))])
    async with ScriptedUpstream(body) as upstream:
        items = await items_from(upstream.url)
    assert items == ["Hel", Finish("length", "length")]


async def test_an_answer_without_a_finish_reason_finishes_with_stop() -> None:
    async with ScriptedUpstream(Reply.sse([json.dumps(chunk("Hi"))])) as upstream:
        items = await items_from(upstream.url)
    assert items == ["Hi", Finish("stop")]


async def test_a_stream_without_text_or_finish_reason_reports_no_finish() -> None:
    async with ScriptedUpstream(Reply.sse([json.dumps(chunk(""))])) as upstream:
        assert await items_from(upstream.url) == []


def test_the_model_is_a_text_only_web_chat() -> None:
    (model,) = chatplug_vitalentum.list_models()
    assert (model.upstream, model.capabilities) == (WEB_CHAT, frozenset())
