"""The time limits of the conformance checks (read when a check runs, so a test may lower them)."""

from __future__ import annotations

from ...types import RetryPolicy, Timeout

#: timeouts generous enough for a loaded machine, short enough to report a hang
CHECK_TIMEOUT = Timeout(connect=5.0, first_byte=15.0, idle=15.0, total=None)
NO_RETRY = RetryPolicy(attempts=1)
#: seconds one check may take in all
CHECK_LIMIT = 60.0
#: seconds to wait for the plugin to close an abandoned connection
CLOSE_WAIT = 5.0
#: seconds to wait for the first piece while the rest of the answer is held back
FIRST_PIECE_WAIT = 8.0
#: the idle timeout of the idle_timeout check, and how late it may fire
IDLE_TIMEOUT = 0.5
IDLE_SLACK = 7.0
