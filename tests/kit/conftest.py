"""The kit's tests.

``legacy_plugin/`` is a provider plugin exactly as ``chatplug new-plugin`` generated it for
contract 0.1 (text only, no capabilities, ``chatplug>=0.1,<1``), kept unchanged as the proof
that such a plugin keeps working: ``test_legacy_plugin.py`` and ``test_fresh_venv.py``
install it as a separate distribution and run its own tests and the conformance suite.
Its tests run only there (with the plugin installed), not in this session.
"""

collect_ignore = ["legacy_plugin"]
