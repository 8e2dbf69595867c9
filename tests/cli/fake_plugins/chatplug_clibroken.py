"""A provider plugin that fails to import: ``chatplug plugins --check`` must report it."""

from __future__ import annotations

raise RuntimeError("this plugin is broken on purpose")
