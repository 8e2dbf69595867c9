"""The chatplug conformance suite for the gemini provider (one test per check)."""

from chatplug.testing.conformance import conformance_tests

test_conformance = conformance_tests("gemini")
