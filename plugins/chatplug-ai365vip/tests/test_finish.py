"""The provider reports finish ``stop`` at the end of an answer, and is a text-only web chat."""

from __future__ import annotations

from typing import Awaitable, Callable, List

import chatplug_ai365vip
from chatplug.emulation import RunningEmulator
from chatplug.events import Finish, StreamItem
from chatplug.testing import Reply, ScriptedUpstream, collect_items, completion_request, text_of
from chatplug.types import WEB_CHAT
from chatplug_ai365vip import stream_completion


async def items_from(base_url: str) -> List[StreamItem]:
    request = completion_request(base_url, provider="ai365vip", model="gpt-4o", timeout=10)
    return await collect_items(stream_completion, request)


async def test_the_answer_ends_with_finish_stop(
    emulator: Callable[..., Awaitable[RunningEmulator]],
) -> None:
    upstream = await emulator()
    items = await items_from(upstream.url)
    assert text_of(items) == upstream.replies[-1]
    assert [i for i in items if not isinstance(i, str)] == [Finish("stop")]
    assert items[-1] == Finish("stop")


async def test_an_empty_body_reports_no_finish() -> None:
    async with ScriptedUpstream(Reply.text("")) as upstream:
        assert await items_from(upstream.url) == []


def test_every_model_is_a_text_only_web_chat() -> None:
    models = chatplug_ai365vip.list_models()
    assert {(m.upstream, m.capabilities) for m in models} == {(WEB_CHAT, frozenset())}
