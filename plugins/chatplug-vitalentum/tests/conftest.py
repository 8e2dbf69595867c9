"""Fixtures: the emulator (scriptable, in the test's loop), clients bound to this plugin,
polling (``chatplug.testing.plugin_fixtures``); the scripted upstream and the forward
proxy are the kit's pytest fixtures (``scripted_upstream``, ``forward_proxy``)."""

from __future__ import annotations

from chatplug.testing import plugin_fixtures
from chatplug_vitalentum.emulator import create_app

emulator, client, registry, wait_until = plugin_fixtures("vitalentum", create_app)
