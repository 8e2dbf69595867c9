"""The kit's tests.

``legacy_plugin/`` is a provider plugin exactly as ``chatplug new-plugin`` generated it for
contract 0.1 (text only, no capabilities, ``chatplug>=0.1,<1``), kept unchanged as the proof
that such a plugin keeps working: ``test_legacy_plugin.py`` and ``test_fresh_venv.py``
install it as a separate distribution and run its own tests and the conformance suite.
Its tests run only there (with the plugin installed), not in this session.

``kitsource`` (next to this file: loading and patching plugins given as source) is put on
``sys.path`` so that the test modules can import it under ``--import-mode=importlib``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

collect_ignore = ["legacy_plugin"]
