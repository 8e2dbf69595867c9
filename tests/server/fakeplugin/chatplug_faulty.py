"""Misbehaving providers for the hardening tests (no upstream: they yield by themselves).

``faulty``: the prompt picks the fault (``<fault>-before`` happens before any text,
``<fault>-after`` after the text ``"partial "``):

- ``exit``, ``interrupt``, ``cancel``, ``genexit``, ``raise``: raise ``SystemExit``,
  ``KeyboardInterrupt``, its own ``CancelledError``, ``GeneratorExit``, ``ValueError``;
- ``bytes``, ``dict``: yield ``b"bytes"`` or ``{"text": "dict"}`` instead of text;
- ``block:SECONDS``: ``time.sleep(SECONDS)`` (blocks the event loop), then ``"woke"``;
- ``wait:SECONDS``: ``await asyncio.sleep(SECONDS)``, then ``"late"``;
- ``forever:TOKEN``: ``"tick "`` every 50 ms until closed; ``flood:TOKEN``: 16 KiB pieces
  as fast as possible until closed.  Both print ``faulty: closed TOKEN`` on stderr when
  the stream is closed;
- anything else: ``"hello from faulty"``.

``hangs``: its ``list_models`` never returns (well, after an hour).
``exits`` (module ``chatplug_faulty_import``) raises ``SystemExit`` when imported.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, AsyncIterator, Dict, List

from chatplug import CompletionRequest, ModelInfo, hookimpl

PARTIAL = "partial "
FAULTS: Dict[str, Any] = {
    "exit": lambda: SystemExit(3),
    "interrupt": KeyboardInterrupt,
    "cancel": asyncio.CancelledError,
    "genexit": GeneratorExit,
    "raise": lambda: ValueError("scripted plugin bug"),
}
NOT_TEXT: Dict[str, Any] = {"bytes": b"bytes", "dict": {"text": "dict"}}


@hookimpl
def list_models() -> List[ModelInfo]:
    return [ModelInfo("m", "faulty", default=True)]


@hookimpl
async def stream_completion(request: CompletionRequest, session: Any) -> AsyncIterator[Any]:
    prompt = request.prompt
    fault, _, when = prompt.rpartition("-")
    if when == "after" and (fault in FAULTS or fault in NOT_TEXT):
        yield PARTIAL
    if fault in FAULTS and when in ("before", "after"):
        raise FAULTS[fault]()
    if fault in NOT_TEXT and when in ("before", "after"):
        yield NOT_TEXT[fault]
        return
    if prompt.startswith("block:"):
        time.sleep(float(prompt.split(":")[1]))
        yield "woke"
        return
    if prompt.startswith("wait:"):
        await asyncio.sleep(float(prompt.split(":")[1]))
        yield "late"
        return
    if prompt.startswith(("forever:", "flood:")):
        kind, token = prompt.split(":", 1)
        piece, pause = ("tick ", 0.05) if kind == "forever" else ("x" * 16384, 0.0)
        try:
            while True:
                yield piece
                await asyncio.sleep(pause)
        finally:
            print(f"faulty: closed {token}", file=sys.stderr, flush=True)
    yield "hello from faulty"


class Hangs:
    """``hangs``: a plugin whose ``list_models`` blocks."""

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        time.sleep(3600)
        return [ModelInfo("m", "hangs", default=True)]

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        yield "never"


hangs = Hangs()
