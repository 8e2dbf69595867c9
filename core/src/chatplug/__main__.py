"""``python -m chatplug``: the ``chatplug`` command line."""

from __future__ import annotations

import sys

from .cli import run

if __name__ == "__main__":
    sys.exit(run(prog_name="chatplug"))
