"""Report a plugin that blocks the event loop (``time.sleep``, CPU-bound work, sync I/O).

One event loop serves every request of the process: a plugin that blocks it stalls them
all.  :class:`LoopWatchdog` notices: the loop stamps a heartbeat every ``threshold / 4``
seconds, and a watching thread that sees the heartbeat older than ``threshold`` samples
the loop thread's Python stack and names the plugin whose hook is on it (by the code of
its hook functions).  When the loop runs again, one WARNING says which plugin blocked it,
where, and for how long; a loop still blocked after :data:`HANG_REPORT` seconds is
reported from the watching thread (it may never come back).  At most one warning per
plugin every :data:`REPEAT_EVERY` seconds (the next one counts the ones in between).
``plugins`` maps the code of hook functions to the plugin's name.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from types import CodeType, FrameType
from typing import Dict, Iterable, Optional, Tuple

log = logging.getLogger("chatplug.server")

#: seconds of blocking after which the watching thread reports (the loop may never return)
HANG_REPORT = 10.0
#: seconds between two warnings about the same plugin
REPEAT_EVERY = 10.0


class LoopWatchdog:
    """Watches the running loop from a thread; see the module docstring."""

    def __init__(
        self,
        threshold: float,
        plugins: Dict[CodeType, str],
        *,
        hang_report: float = HANG_REPORT,
        repeat_every: float = REPEAT_EVERY,
    ) -> None:
        self.threshold = threshold
        self.plugins = plugins
        self.hang_report = hang_report
        self.repeat_every = repeat_every
        self._interval = max(0.01, threshold / 4)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._loop_thread = 0
        self._beat = time.monotonic()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        #: the stall being watched: (plugin or None, where) from the first sample
        self._stall: Optional[Tuple[Optional[str], str]] = None
        self._hang_reported = False
        self._last_warning: Dict[Optional[str], float] = {}
        self._skipped: Dict[Optional[str], int] = {}

    def start(self) -> None:
        """Start watching the running loop (call from it)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        self._timer = self._loop.call_later(self._interval, self._heartbeat)
        threading.Thread(target=self._watch, name="chatplug-loop-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # the loop's side ---------------------------------------------------------------

    def _heartbeat(self) -> None:
        now = time.monotonic()
        with self._lock:
            stall, blocked, hang_reported = self._stall, now - self._beat, self._hang_reported
            self._stall, self._hang_reported = None, False
            self._beat = now
        if stall is not None:
            plugin, where = stall
            what = f"blocked the event loop for {blocked:.2f}s ({where})"
            self._warn(plugin, what, always=hang_reported)
        assert self._loop is not None
        self._timer = self._loop.call_later(self._interval, self._heartbeat)

    # the watching thread's side ------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                blocked = time.monotonic() - self._beat
                if blocked < self.threshold:
                    continue
                if self._stall is None:
                    frame = sys._current_frames().get(self._loop_thread)
                    self._stall = culprit(frame, self.plugins)
                report = blocked >= self.hang_report and not self._hang_reported
                if report:
                    self._hang_reported = True
                plugin, where = self._stall
            if report:
                self._warn(plugin, f"has blocked the event loop for {blocked:.0f}s ({where})")

    def _warn(self, plugin: Optional[str], what: str, always: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last_warning.get(plugin)
            if not always and last is not None and now - last < self.repeat_every:
                self._skipped[plugin] = self._skipped.get(plugin, 0) + 1
                return
            self._last_warning[plugin] = now
            skipped = self._skipped.pop(plugin, 0)
        who = f"plugin {plugin!r}" if plugin else "code outside any plugin"
        more = f" ({skipped} more times since the last warning)" if skipped else ""
        log.warning(
            "%s %s: every request of this process waited; a plugin must not block "
            "(use async I/O, or asyncio.to_thread for blocking work)%s",
            who,
            what,
            more,
        )


def culprit(frame: Optional[FrameType], plugins: Dict[CodeType, str]) -> Tuple[Optional[str], str]:
    """``(plugin, "file:line in function")``: the plugin whose hook is on the stack of
    ``frame`` (innermost first), and where the innermost frame is."""
    if frame is None:
        return None, "unknown place"
    code = frame.f_code
    where = f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"
    for outer in _stack(frame):
        plugin = plugins.get(outer.f_code)
        if plugin is not None:
            return plugin, where
    return None, where


def _stack(frame: Optional[FrameType]) -> Iterable[FrameType]:
    while frame is not None:
        yield frame
        frame = frame.f_back
