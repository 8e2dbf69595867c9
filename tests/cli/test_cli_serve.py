"""``chatplug serve``'s command line as a subprocess: invalid numbers are usage errors,
reported before anything listens."""

from __future__ import annotations

import subprocess
from typing import Callable

import pytest

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--timeout", "-1"),
        ("--timeout", "0"),
        ("--timeout", "nan"),
        ("--timeout", "inf"),
        ("--grace", "-1"),
        ("--grace", "nan"),
    ],
)
def test_an_invalid_number_of_seconds_is_a_usage_error(
    run_cli: RunCli, option: str, value: str
) -> None:
    result = run_cli("serve", "--port", "0", option, value, timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"Invalid value for '{option}'" in result.stderr
    assert "listening" not in result.stderr
