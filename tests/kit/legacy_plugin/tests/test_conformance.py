"""The chatplug conformance suite, one test per check, for the provider:
legacy-acme
"""

from chatplug.testing.conformance import conformance_tests

test_conformance = conformance_tests("legacy-acme")
