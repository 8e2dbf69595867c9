"""A working provider plugin without an emulator (``--emulate`` must say so)."""

from __future__ import annotations

from typing import List

from chatplug import ModelInfo, hookimpl
from chatplug_clitest import stream_completion

__all__ = ["list_models", "stream_completion"]


@hookimpl
def list_models() -> List[ModelInfo]:
    return [ModelInfo("plain-1", "clinoemu", default=True)]
