"""The echo upstream of the core's tests: the kit's scripted upstream answering SSE.

``ScriptedUpstream(handler=echo())`` streams ``REPLY`` plus the request's prompt as
``{"text": ...}`` events and ``[DONE]``, written in awkward pieces that split UTF-8
characters and events (what ``conftest.ECHO_PLUGIN`` decodes).
"""

from __future__ import annotations

import json
from typing import Callable, Sequence

from chatplug.emulation import AWKWARD_SIZES
from chatplug.testing import RecordedRequest, Reply, split_bytes

REPLY = ["Héllo", ", ", "wörld ", "✓ "]


def expected(prompt: str) -> str:
    """The answer :func:`echo` streams for ``prompt`` (with the echo plugin)."""
    return "".join(REPLY) + prompt


def echo(pieces: Sequence[str] = REPLY, delay: float = 0.0) -> Callable[[RecordedRequest], Reply]:
    """A handler answering ``pieces`` plus the prompt, ``delay`` seconds between writes."""

    def reply(request: RecordedRequest) -> Reply:
        texts = [*pieces, request.json()["prompt"]]
        events = Reply.sse([json.dumps({"text": text}, ensure_ascii=False) for text in texts])
        return events.but(
            chunks=split_bytes(events.body, AWKWARD_SIZES), delay=delay, keep_alive=True
        )

    return reply
