"""``nox``: the plugin's tests (with the conformance suite) against the released core."""

from __future__ import annotations

import nox


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def conformance(session: nox.Session) -> None:
    """Only the conformance suite (what `chatplug check NAME` runs)."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/test_conformance.py", *session.posargs)
