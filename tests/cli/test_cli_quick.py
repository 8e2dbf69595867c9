"""The console script answers ``--version``, ``plugins`` and ``plugins --json`` without
importing click, with exactly the click group's output; anything that goes wrong there is
reported by the click group as usual (:mod:`chatplug.cli.quick`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from .conftest import RunCli

QUICK = [["--version"], ["plugins"], ["plugins", "--json"]]

#: runs the console script's function; says on stderr whether click was imported
PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('CLICK %s\\n' % ('click' in sys.modules)))\n"
    "from chatplug.cli import run\n"
    "sys.exit(run(sys.argv[1:]))\n"
)
#: the click group itself, for the same arguments
GROUP = "import sys\nfrom chatplug.cli import main\nmain(sys.argv[1:], prog_name='chatplug')\n"


def python(code: str, args: List[str], env: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("args", QUICK, ids=" ".join)
def test_a_quick_command_does_not_import_click(args: List[str], cli_env: Dict[str, str]) -> None:
    result = python(PROBE, args, cli_env)
    assert result.returncode == 0, result.stderr
    assert "CLICK False" in result.stderr


@pytest.mark.parametrize("args", QUICK, ids=" ".join)
def test_a_quick_command_prints_what_the_click_group_prints(
    args: List[str], run_cli: RunCli, cli_env: Dict[str, str]
) -> None:
    quick = run_cli(*args)
    group = python(GROUP, args, cli_env)
    assert (quick.returncode, group.returncode) == (0, 0), quick.stderr + group.stderr
    assert quick.stdout == group.stdout
    assert "clibroken" in quick.stdout  # the test plugins are there, the broken one too


def test_other_commands_go_through_the_click_group(cli_env: Dict[str, str]) -> None:
    result = python(PROBE, ["plugins", "--check"], cli_env)
    assert result.returncode == 15
    assert "CLICK True" in result.stderr


def test_a_configuration_warning_is_printed_once_as_one_plain_line(
    run_cli: RunCli, tmp_path: Path
) -> None:
    config = tmp_path / "chatplug.toml"
    config.write_text('[defaults]\nmodle = "x"\n')
    result = run_cli("plugins", env={"CHATPLUG_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Warning: ") == 1 and "unknown key 'modle'" in result.stderr
    assert "ConfigWarning" not in result.stderr
    assert "clitest" in result.stdout


def test_an_invalid_configuration_is_reported_by_the_click_group(
    run_cli: RunCli, tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    config = tmp_path / "chatplug.toml"
    config.write_text("[defaults\n")
    env = {**cli_env, "CHATPLUG_CONFIG": str(config)}
    result = run_cli("plugins", env={"CHATPLUG_CONFIG": str(config)})
    probe = python(PROBE, ["plugins"], env)
    assert result.returncode == probe.returncode != 0
    assert result.stderr.startswith("Error: ") and str(config) in result.stderr
    assert result.stdout == ""
    assert "CLICK True" in probe.stderr


def test_a_closed_pipe_exits_141_quietly(cli_env: Dict[str, str]) -> None:
    code = (
        "import os, sys\n"
        "from chatplug.cli import run\n"
        "read, write = os.pipe()\n"
        "os.close(read)\n"
        "os.dup2(write, 1)\n"
        "sys.exit(run(['plugins']))\n"
    )
    result = python(code, [], cli_env)
    assert result.returncode == 141
    assert result.stderr == ""
