"""Fixtures for running the real ``chatplug`` console script as a subprocess.

Three provider plugins are installed for these tests only, as dist-infos on PYTHONPATH:
``clitest`` (works, ships an emulator), ``clinoemu`` (works, no emulator) and
``clibroken`` (raises on import).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from chatplug.testing import write_distribution

HERE = Path(__file__).parent
FAKE_PLUGINS = HERE / "fake_plugins"

#: module -> (distribution, version, entry points)
DISTRIBUTIONS: Dict[str, Tuple[str, str, Dict[str, Dict[str, str]]]] = {
    "chatplug_clitest": (
        "chatplug-clitest",
        "0.3.1",
        {
            "chatplug.providers": {"clitest": "chatplug_clitest"},
            "chatplug.emulators": {"clitest": "chatplug_clitest:emulator"},
        },
    ),
    "chatplug_clinoemu": (
        "chatplug-clinoemu",
        "1.0",
        {"chatplug.providers": {"clinoemu": "chatplug_clinoemu"}},
    ),
    "chatplug_clibroken": (
        "chatplug-clibroken",
        "0.0.1",
        {"chatplug.providers": {"clibroken": "chatplug_clibroken"}},
    ),
}


def chatplug_command() -> List[str]:
    """The installed console script next to this Python, else ``python -m chatplug``."""
    script = Path(sys.executable).parent / ("chatplug.exe" if os.name == "nt" else "chatplug")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "chatplug"]


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the test plugins' modules and dist-infos."""
    root = tmp_path_factory.mktemp("cli-plugins")
    for module, (name, version, entry_points) in DISTRIBUTIONS.items():
        source = (FAKE_PLUGINS / f"{module}.py").read_text(encoding="utf-8")
        write_distribution(root, name, entry_points, version=version, modules={module: source})
    return root


@pytest.fixture
def cli_env(plugin_path: Path, tmp_path: Path) -> Dict[str, str]:
    """The environment of a ``chatplug`` subprocess: test plugins on the path, no config
    file, no proxies, a private history file and logs database, no colours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().endswith("_PROXY")
        and not key.startswith("CHATPLUG_")
        and key not in ("PYTHONPATH", "PYTEST_ADDOPTS")
    }
    env.update(
        PYTHONPATH=str(plugin_path),
        CHATPLUG_CONFIG="",
        CHATPLUG_HISTORY_FILE=str(tmp_path / "history"),
        CHATPLUG_LOGS_DB=str(tmp_path / "logs.db"),
        NO_COLOR="1",
        TERM="dumb",
        PYTHONIOENCODING="utf-8",
    )
    return env


@pytest.fixture
def cli_command() -> List[str]:
    """The command that runs ``chatplug``."""
    return chatplug_command()


RunCli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_cli(cli_env: Dict[str, str]) -> RunCli:
    """``run_cli(*args, input=None, env=None)``: run ``chatplug`` to completion."""

    def run(
        *args: str,
        input: Optional[str] = None,
        env: Optional[Dict[str, str]] = None,
        timeout: float = 60,
    ) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [*chatplug_command(), *args],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env={**cli_env, **(env or {})},
            timeout=timeout,
        )

    return run


def _default_sigint() -> None:
    """In the child: SIGINT at its default, as for a command run from a terminal.  A test
    run started in the background (``cmd &`` in a script) has SIGINT ignored, and a child
    inherits that: Ctrl-C tests would then test nothing but the ignoring."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def popen_cli(cli_env: Dict[str, str]) -> Iterator[Callable[..., "subprocess.Popen[bytes]"]]:
    """``popen_cli(*args)``: start ``chatplug`` with piped stdout and stderr."""
    started: List["subprocess.Popen[bytes]"] = []

    def start(*args: str, env: Optional[Dict[str, str]] = None) -> "subprocess.Popen[bytes]":
        process = subprocess.Popen(
            [*chatplug_command(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**cli_env, **(env or {})},
            preexec_fn=None if os.name == "nt" else _default_sigint,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
