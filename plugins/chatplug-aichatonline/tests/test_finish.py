"""The provider reports finish ``stop`` at the end of an answer, and is a text-only web chat."""

from __future__ import annotations

from typing import Callable

import chatplug_aichatonline
from chatplug import CompletionRequest
from chatplug.emulation import RunningEmulator
from chatplug.events import Finish
from chatplug.testing import collect_items, text_of
from chatplug.types import WEB_CHAT
from chatplug_aichatonline import stream_completion


async def test_the_answer_ends_with_finish_stop(
    emulator: RunningEmulator, make_request: Callable[..., CompletionRequest]
) -> None:
    items = await collect_items(stream_completion, make_request("Grüße ✓", base_url=emulator.url))
    assert text_of(items) == emulator.replies[-1]
    assert [i for i in items if not isinstance(i, str)] == [Finish("stop")]
    assert items[-1] == Finish("stop")


def test_the_model_is_a_text_only_web_chat() -> None:
    (model,) = chatplug_aichatonline.list_models()
    assert (model.upstream, model.capabilities) == (WEB_CHAT, frozenset())
