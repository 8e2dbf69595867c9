"""The chatplug conformance suite for the ai365vip provider (one test per check)."""

from chatplug.testing.conformance import conformance_tests

test_conformance = conformance_tests("ai365vip")
