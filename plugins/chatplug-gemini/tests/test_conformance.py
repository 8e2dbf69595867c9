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
from chatplug.testing import emulator_thread, make_sync_client
from chatplug.testing.conformance import conformance_tests

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


def core_hands_events_to_callers() -> bool:
    """Whether the installed core's client yields this plugin's events to its callers."""
    with emulator_thread("gemini") as emulator:
        with make_sync_client("gemini", base_urls={"gemini": emulator.url}, retry=1) as client:
            return any(not isinstance(piece, str) for piece in client.stream("Hi ✓"))


test_conformance = conformance_tests(
    "gemini", plugin=TextView() if core_hands_events_to_callers() else None
)
