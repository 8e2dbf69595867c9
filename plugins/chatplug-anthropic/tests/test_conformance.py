"""The chatplug conformance suite for the anthropic provider (one test per check)."""

from chatplug.testing.conformance import conformance_tests

test_conformance = conformance_tests("anthropic")
