"""A plugin's commands as subprocesses: ``chatplug ...`` and its emulator served alone.

- :func:`run_cli` runs ``python -m chatplug <args>`` with only the named plugins enabled and
  nothing from the user's environment that could change the answer (configuration file,
  ``CHATPLUG_*`` variables, proxies, the given API key variables)::

      done = run_cli(["chat", "--emulate", "-p", "acme", "Hi"], plugins="acme", home=tmp_path)
      assert done.returncode == 0, done.stderr

- :func:`emulator_process` runs ``python -m <module> --port N`` (an emulator's
  :func:`~chatplug.emulation.emulator_main`) until the block ends, once it said it listens.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, Iterator, NamedTuple, Optional, Sequence, Union

__all__ = ["EmulatorProcess", "emulator_process", "free_port", "run_cli"]

#: seconds a command may take before the test fails
COMMAND_TIMEOUT = 120.0


def cli_environment(
    plugins: str, home: Union[str, Path, None] = None, unset: Iterable[str] = ()
) -> Dict[str, str]:
    """This process's environment without ``CHATPLUG_*``, proxy and ``unset`` variables,
    with ``CHATPLUG_PLUGINS=plugins``, no configuration file and ``HOME=home`` (when given)."""
    dropped = set(unset)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CHATPLUG_")
        and not key.lower().endswith("_proxy")
        and key not in dropped
    }
    env.update(CHATPLUG_PLUGINS=plugins, CHATPLUG_CONFIG="")
    if home is not None:
        env["HOME"] = str(home)
    return env


def run_cli(
    args: Sequence[str],
    *,
    plugins: str,
    home: Union[str, Path, None] = None,
    unset: Iterable[str] = (),
    timeout: float = COMMAND_TIMEOUT,
    **env: str,
) -> "subprocess.CompletedProcess[str]":
    """``python -m chatplug <args>`` in :func:`cli_environment` (plus ``env``), its output
    captured as UTF-8 text; it never raises for an exit status."""
    return subprocess.run(
        [sys.executable, "-m", "chatplug", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**cli_environment(plugins, home, unset), **env},
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmulatorProcess(NamedTuple):
    """A running ``python -m <emulator>``: its ``port``, the ``line`` it announced itself
    with (``<name> on <URL>``) and ``url``, the URL of that line."""

    port: int
    line: str
    url: str
    process: "subprocess.Popen[str]"


@contextlib.contextmanager
def emulator_process(
    module: str, *args: str, port: Optional[int] = None
) -> Iterator[EmulatorProcess]:
    """Run ``python -m module --port <port> *args`` (a free port by default) until the block
    ends; the block starts once the emulator announced that it listens."""
    port = free_port() if port is None else port
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port), *args],
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line:
            raise AssertionError(f"python -m {module} exited without announcing itself")
        yield EmulatorProcess(port, line, line.rpartition(" ")[2], process)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
