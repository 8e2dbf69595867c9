"""The chatplug conformance suite for the ollama provider (one test per check).

A core that does not consume contract 0.2 events yet hands them to the caller as text, so
the suite then checks this plugin through :class:`TextOnly` (its hooks, events left out).
"""

import chatplug_ollama
from chatplug.testing.conformance import conformance_tests

from .conftest import TextOnly, core_reads_events

test_conformance = conformance_tests(
    "ollama", plugin=None if core_reads_events() else TextOnly(chatplug_ollama)
)
