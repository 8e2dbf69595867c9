"""Logging off the event loop: the access log must never block request handling."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import List, TextIO

#: how long the writer thread gathers lines after a write before the next one
BATCH_SECONDS = 0.1


class BackgroundStreamHandler(logging.Handler):
    """Format records in the caller's thread, write them from a background thread.

    Writing to stderr is a blocking system call (slow, or stuck when stderr is a full pipe);
    here the event loop only formats a line and queues it, and a daemon thread writes
    whatever has accumulated in one ``write``, at most every :data:`BATCH_SECONDS` (a thread
    woken for every line would take the GIL from the event loop hundreds of times a second
    under load).  :meth:`flush` waits until every queued line is written
    (``logging.shutdown`` calls it at exit).
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._queue: "queue.Queue[str]" = queue.Queue()
        self._thread = threading.Thread(
            target=self._write_forever, name="chatplug-access-log", daemon=True
        )
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put_nowait(self.format(record) + "\n")
        except Exception:  # never let logging break a request
            self.handleError(record)

    @property
    def plain(self) -> bool:
        """Whether a record is written as its message alone (format ``%(message)s``)."""
        formatter = self.formatter
        return formatter is not None and formatter._fmt == "%(message)s"

    def put(self, line: str) -> None:
        """Queue ``line`` as it is (for a caller that checked :attr:`plain`)."""
        self._queue.put_nowait(line + "\n")

    def flush(self) -> None:
        if self._thread.is_alive():
            self._queue.join()

    def _write_forever(self) -> None:
        while True:
            lines: List[str] = [self._queue.get()]
            while True:
                try:
                    lines.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except Exception:  # a closed or broken stderr loses log lines, nothing else
                pass
            finally:
                for _ in lines:
                    self._queue.task_done()
            time.sleep(BATCH_SECONDS)
