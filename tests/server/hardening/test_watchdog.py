"""The event-loop watchdog: a hang is reported while it lasts, and repeated blocking by
one plugin makes one warning per period, not one per block."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import List

import pytest
from chatplug.server.watchdog import LoopWatchdog

pytestmark = pytest.mark.timeout(30)


def stuck(seconds: float) -> None:
    """Plugin code that blocks the loop."""
    time.sleep(seconds)


def warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_a_hang_is_reported_while_it_lasts_then_with_its_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watchdog = LoopWatchdog(0.1, {stuck.__code__: "stuckplugin"}, hang_report=0.5)
    watchdog.start()
    try:
        with caplog.at_level(logging.WARNING, logger="chatplug.server"):
            await asyncio.sleep(0.2)
            stuck(1.0)
            during = warnings(caplog)
            await asyncio.sleep(0.2)  # the loop runs again
    finally:
        watchdog.stop()
    assert len(during) == 1
    assert during[0].startswith("plugin 'stuckplugin' has blocked the event loop for ")
    after = warnings(caplog)
    assert len(after) == 2
    assert after[1].startswith("plugin 'stuckplugin' blocked the event loop for 1.0")
    assert "test_watchdog.py" in after[1] and "in stuck" in after[1]


async def test_repeated_blocking_by_one_plugin_is_one_warning_per_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watchdog = LoopWatchdog(0.1, {stuck.__code__: "stuckplugin"}, repeat_every=30)
    watchdog.start()
    try:
        with caplog.at_level(logging.WARNING, logger="chatplug.server"):
            for _ in range(3):
                await asyncio.sleep(0.1)
                stuck(0.3)
                await asyncio.sleep(0.1)
    finally:
        watchdog.stop()
    assert len(warnings(caplog)) == 1
