"""The fault-injection suite: scripted upstreams on 127.0.0.1 and in-test plugins.

``faultkit`` (next to this file) holds the scripted replies (for the kit's
``ScriptedUpstream``) and the plugins; it is put on ``sys.path`` here so the test modules
can import it under ``--import-mode=importlib``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
