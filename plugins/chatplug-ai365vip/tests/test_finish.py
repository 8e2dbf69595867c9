"""The provider reports finish ``stop`` at the end of an answer, and is a text-only web chat."""

from __future__ import annotations

from typing import Awaitable, Callable, List

import aiohttp
import chatplug_ai365vip
from chatplug import CompletionRequest, Timeout
from chatplug.emulation import RunningEmulator
from chatplug.events import Finish, StreamItem
from chatplug.testing import Reply, ScriptedUpstream
from chatplug.types import WEB_CHAT
from chatplug_ai365vip import stream_completion


def request(base_url: str) -> CompletionRequest:
    return CompletionRequest(
        "ai365vip",
        "gpt-4o",
        ({"role": "user", "content": "Grüße ✓"},),
        "Grüße ✓",
        base_url=base_url,
        timeout=Timeout(5, 10, 10, 20),
    )


async def items_from(base_url: str) -> List[StreamItem]:
    async with aiohttp.ClientSession() as session:
        return [item async for item in stream_completion(request(base_url), session)]


async def test_the_answer_ends_with_finish_stop(
    emulator: Callable[..., Awaitable[RunningEmulator]],
) -> None:
    upstream = await emulator()
    items = await items_from(upstream.url)
    assert "".join(i for i in items if isinstance(i, str)) == upstream.replies[-1]
    assert [i for i in items if not isinstance(i, str)] == [Finish("stop")]
    assert items[-1] == Finish("stop")


async def test_an_empty_body_reports_no_finish() -> None:
    async with ScriptedUpstream(Reply.text("")) as upstream:
        assert await items_from(upstream.url) == []


def test_every_model_is_a_text_only_web_chat() -> None:
    models = chatplug_ai365vip.list_models()
    assert {(m.upstream, m.capabilities) for m in models} == {(WEB_CHAT, frozenset())}
