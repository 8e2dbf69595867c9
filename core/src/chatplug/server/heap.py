"""The garbage collector in a long-running server process.

Once the app has started (plugins imported, catalogues and routes built), everything
allocated so far lives as long as the process: :func:`settle_heap` moves it out of the
collector's reach (``gc.freeze()``) and collects the young generation less often.  Under
load a server allocates many short-lived containers per request, and the collections
they trigger walked the whole startup heap again and again: measured over 2,500 requests
at 500 concurrent streams (``bench/saturation.py``), 0.28 s of the server's 1.5 s of
request CPU time went to the collector, 0.14 s with this; over 3,500 requests the longest
collection took 70 ms before, 20 ms after.
The runners of ``chatplug serve`` (one process or ``--workers``) add it to the app's
startup; a program embedding :func:`~chatplug.server.create_app` decides for itself.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

#: allocations between two collections of the youngest generation (Python's default: 700)
YOUNG_THRESHOLD = 10_000


async def settle_heap(app: "web.Application") -> None:
    """An ``on_startup`` handler: freeze the startup heap, collect the young less often."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)


def settle_after_startup(app: "web.Application") -> "web.Application":
    """``app`` with :func:`settle_heap` as its last startup step (after its own)."""
    app.on_startup.append(settle_heap)
    return app
