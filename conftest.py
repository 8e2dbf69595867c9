"""Every test run of this repository logs chats to a private database, never the user's
(``chatplug chat`` logs by default; ``nox`` sets the same variable)."""

from __future__ import annotations

import os
import tempfile

if "CHATPLUG_LOGS_DB" not in os.environ:
    os.environ["CHATPLUG_LOGS_DB"] = os.path.join(
        tempfile.mkdtemp(prefix="chatplug-tests-"), "logs.db"
    )
