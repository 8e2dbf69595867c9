"""``python -m chatplug.server``: the same as ``chatplug serve``."""

from __future__ import annotations

from . import serve_command

if __name__ == "__main__":
    serve_command(prog_name="chatplug serve")
