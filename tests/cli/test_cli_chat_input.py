"""``chatplug chat``'s input limits as a subprocess: piped stdin is read up to 8 MiB, and
numbers of seconds are checked when the command line is parsed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List

import pytest

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]
EMULATED = ("chat", "--emulate", "-p", "clitest")
MAX_STDIN_BYTES = 8 * 1024 * 1024  # documented in docs/cli.md


def run_with_stdin(
    cli_command: List[str], cli_env: Dict[str, str], stdin_path: str, *args: str
) -> "subprocess.CompletedProcess[str]":
    """Run ``chatplug`` with ``stdin_path`` as stdin, in at most 2 GiB of address space (an
    unbounded read fails fast instead of filling the machine's memory)."""

    def limit_memory() -> None:
        import resource

        two_gib = 2 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (two_gib, two_gib))

    with open(stdin_path, "rb") as stdin:
        return subprocess.run(
            [*cli_command, *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            env=cli_env,
            timeout=60,
            preexec_fn=limit_memory,
        )


def test_stdin_larger_than_8_mib_is_a_usage_error(
    cli_command: List[str], cli_env: Dict[str, str], tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (MAX_STDIN_BYTES + 1))
    result = run_with_stdin(cli_command, cli_env, str(big), *EMULATED, "summarise")
    assert result.returncode == 2, result.stderr
    assert "stdin holds more than 8 MiB" in result.stderr
    assert result.stdout == ""


def test_stdin_of_8_mib_is_read(
    cli_command: List[str], cli_env: Dict[str, str], tmp_path: Path
) -> None:
    exact = tmp_path / "exact.txt"
    exact.write_bytes(b"a" * MAX_STDIN_BYTES)
    result = run_with_stdin(cli_command, cli_env, str(exact), *EMULATED, "--json", "count")
    assert "stdin holds more" not in result.stderr  # the emulator may refuse the size


@pytest.mark.skipif(sys.platform == "win32" or not Path("/dev/zero").exists(), reason="POSIX")
def test_an_endless_stdin_is_not_read_to_the_end(
    cli_command: List[str], cli_env: Dict[str, str]
) -> None:
    result = run_with_stdin(cli_command, cli_env, "/dev/zero", *EMULATED, "summarise")
    assert result.returncode == 2, result.stderr
    assert "stdin holds more than 8 MiB" in result.stderr


@pytest.mark.parametrize("seconds", ["-1", "0", "nan", "inf", "-inf", "soon"])
def test_an_invalid_timeout_is_a_usage_error(run_cli: RunCli, seconds: str) -> None:
    result = run_cli(*EMULATED, "--timeout", seconds, "Hi")
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--timeout'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_fractional_timeout_is_accepted(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "--timeout", "2.5", "Hi")
    assert result.returncode == 0, result.stderr
