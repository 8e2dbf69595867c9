"""An in-process provider that yields scripted contract-0.2 items, no network involved.

``registry()`` registers it as ``scripted`` with two models: ``full`` declares every
capability, ``text`` none (a text-only, contract-0.1-like model).  The last user message
picks the script (:data:`SCRIPTS`); every request it gets is kept in :data:`RECEIVED`.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Dict, List

from chatplug import CompletionRequest, ModelInfo, Registry, hookimpl
from chatplug.errors import UpstreamConnectionError
from chatplug.events import (
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    StreamItem,
    ToolCallDelta,
    Usage,
)
from chatplug.messages import text_of
from chatplug.types import CAPABILITIES, OFFICIAL, WEB_CHAT

PROVIDER = "scripted"
RECEIVED: List[CompletionRequest] = []
FAIL = object()  # in a script: raise a connection error here

SCRIPTS: Dict[str, List[Any]] = {
    "plain": ["Hi", " there"],
    "length": ["Hello ", "wor", Finish("length", "length"), Usage(5, 2)],
    "reason": [ReasoningDelta("let me think"), ReasoningDelta(" more"), "42", Finish("stop")],
    "tools": [
        ResponseMetadata("up-1", "upstream-model-2024"),
        ToolCallDelta(0, "call_a", "get_weather", '{"ci'),
        ToolCallDelta(1, "call_b", "get_time", '{"tz"'),
        ToolCallDelta(0, arguments='ty": "Paris"}'),
        ToolCallDelta(1, arguments=': "UTC"}'),
        Finish("tool_calls", "tool_calls"),
        Usage(12, 7, cached_input_tokens=3, reasoning_tokens=2),
    ],
    "tools-no-finish": ["Let me look. ", ToolCallDelta(0, "call_z", "noop", "{}")],
    "usage-first": [Usage(1, 0), "text", Finish("stop"), Usage(9, 4)],
    "filtered": ["partial ", Finish("content_filter", "content_filter")],
    "fail-after": ["partial", FAIL],
    "fail-before": [FAIL],
}


class Scripted:
    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [
            ModelInfo("full", PROVIDER, default=True, capabilities=CAPABILITIES, upstream=OFFICIAL),
            ModelInfo("text", PROVIDER, upstream=WEB_CHAT),
        ]

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[StreamItem]:
        RECEIVED.append(request)
        users = [m for m in request.messages if m["role"] == "user"]
        script = SCRIPTS.get(text_of(users[-1]) if users else "", ["echo: ", request.prompt])
        for item in script:
            if item is FAIL:
                raise UpstreamConnectionError("scripted connection failure")
            yield item


def registry() -> Registry:
    """A registry holding only the scripted provider."""
    registry = Registry(discover=False)
    registry.register(PROVIDER, Scripted())
    return registry
