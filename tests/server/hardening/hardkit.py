"""Helpers of the hardening tests (the server as a subprocess, its environment)."""

from __future__ import annotations

from typing import Dict


def with_env(env: Dict[str, str], **variables: str) -> Dict[str, str]:
    """``env`` with ``variables`` set."""
    return {**env, **variables}
