"""The provider reports finish ``stop`` at the end of an answer, and is a text-only web chat."""

from __future__ import annotations

import aiohttp
import chatplug_aichatonline
from chatplug import CompletionRequest, Timeout
from chatplug.emulation import RunningEmulator
from chatplug.events import Finish
from chatplug.types import WEB_CHAT
from chatplug_aichatonline import stream_completion


async def test_the_answer_ends_with_finish_stop(emulator: RunningEmulator) -> None:
    request = CompletionRequest(
        "aichatonline",
        "gpt-4o-mini",
        ({"role": "user", "content": "Grüße ✓"},),
        "Grüße ✓",
        base_url=emulator.url,
        timeout=Timeout(5, 10, 10, 20),
    )
    async with aiohttp.ClientSession() as session:
        items = [item async for item in stream_completion(request, session)]
    assert "".join(i for i in items if isinstance(i, str)) == emulator.replies[-1]
    assert [i for i in items if not isinstance(i, str)] == [Finish("stop")]
    assert items[-1] == Finish("stop")


def test_the_model_is_a_text_only_web_chat() -> None:
    (model,) = chatplug_aichatonline.list_models()
    assert (model.upstream, model.capabilities) == (WEB_CHAT, frozenset())
