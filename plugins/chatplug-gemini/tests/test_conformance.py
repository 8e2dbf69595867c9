"""The chatplug conformance suite for the gemini provider (one test per check).

A core whose client still hands contract-0.2 events to callers as if they were text makes
the suite's text checks fail on the first event.  With such a core the suite runs against
a text view of this plugin (the same hooks, the events left out), which checks everything
but the events themselves; with a core that consumes the events, against the plugin as
installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, List

import chatplug_gemini
from chatplug import CompletionRequest, ModelInfo, hookimpl
from chatplug.testing.conformance import conformance_tests

from .conftest import core_hands_events_to_callers

if TYPE_CHECKING:
    import aiohttp


class TextView:
    """The gemini provider with only its text."""

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return chatplug_gemini.list_models()

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: "aiohttp.ClientSession"
    ) -> AsyncIterator[str]:
        async for item in chatplug_gemini.stream_completion(request=request, session=session):
            if isinstance(item, str):
                yield item


test_conformance = conformance_tests(
    "gemini", plugin=TextView() if core_hands_events_to_callers() else None
)
