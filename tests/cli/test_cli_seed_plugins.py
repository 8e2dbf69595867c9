"""The README's first command, and the CLI against every seed plugin's own emulator.

``nox -s tests`` installs every plugin; a plugin missing from a partial environment is
skipped (the fake ``clitest`` plugin covers the CLI itself in ``test_cli_chat.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List

import pytest
from chatplug.registry import EMULATOR_GROUP, ENTRY_POINT_GROUP, entry_points

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]

SEEDS = ("vitalentum", "ai365vip", "aichatonline")


def installed(provider: str) -> bool:
    return any(entry.name == provider for entry in entry_points(ENTRY_POINT_GROUP)) and any(
        entry.name == provider for entry in entry_points(EMULATOR_GROUP)
    )


def needs(provider: str) -> None:
    if not installed(provider):
        pytest.skip(f"the chatplug-{provider} plugin is not installed")


def test_readme_first_command_streams_the_emulated_reply(run_cli: RunCli) -> None:
    needs("vitalentum")
    result = run_cli("chat", "--emulate", "-p", "vitalentum", "Hello")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    reply = result.stdout
    assert reply.endswith("\n") and reply.count("\n") == 1
    assert "Hello" in reply


@pytest.mark.parametrize("provider", SEEDS)
def test_chat_json_through_each_seed_plugin(run_cli: RunCli, provider: str) -> None:
    needs(provider)
    result = run_cli("chat", "--emulate", "-p", provider, "--json", "Bonjour ✓")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["provider"] == provider
    assert "Bonjour ✓" in payload["text"]
    assert payload["timings"]["first_chunk"] <= payload["timings"]["total"]


@pytest.mark.parametrize("provider", SEEDS)
def test_piped_stdin_through_each_seed_plugin(run_cli: RunCli, provider: str) -> None:
    needs(provider)
    result = run_cli("chat", "--emulate", "-p", provider, "summarise", input="notes ✓\n")
    assert result.returncode == 0, result.stderr
    # (each emulator echoes the prompt its own way; test_cli_chat.py checks the joining)
    assert "summarise" in result.stdout


def test_seed_plugins_are_listed_with_their_models(run_cli: RunCli) -> None:
    present = [provider for provider in SEEDS if installed(provider)]
    if not present:
        pytest.skip("no seed plugin installed")
    plugins = json.loads(run_cli("plugins", "--check", "--json", env=only(present)).stdout)
    statuses = {p["name"]: p["status"] for p in plugins if p["status"] != "disabled"}
    assert statuses == dict.fromkeys(present, "loaded")
    models = json.loads(run_cli("models", "--json", env=only(present)).stdout)
    assert {m["provider"] for m in models} == set(present)
    defaults = [m["qualified_id"] for m in models if m["default"]]
    assert len(defaults) == len(present)


def only(providers: List[str]) -> Dict[str, str]:
    return {"CHATPLUG_PLUGINS": ",".join(providers)}


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")
def test_interactive_vitalentum_keeps_the_conversation(
    cli_command: List[str], cli_env: Dict[str, str]
) -> None:
    needs("vitalentum")
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        cli_command[0],
        [*cli_command[1:], "chat", "--emulate", "-p", "vitalentum"],
        env=cli_env,
        encoding="utf-8",
        timeout=30,
    )
    child.expect_exact("> ")
    child.sendline("first")
    child.expect(r"first.*turn 1")
    child.expect_exact("> ")
    child.sendline("second")
    child.expect(r"second.*turn 2")  # the emulator saw both user turns
    child.expect_exact("> ")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_emulate_never_goes_through_a_configured_proxy(run_cli: RunCli, tmp_path: Path) -> None:
    needs("vitalentum")
    config = tmp_path / "chatplug.toml"
    config.write_text('[defaults]\nproxy = "http://127.0.0.1:9"\n')  # nothing listens there
    result = run_cli(
        "chat", "--emulate", "-p", "vitalentum", "hi", env={"CHATPLUG_CONFIG": str(config)}
    )
    assert result.returncode == 0, result.stderr
    assert "you said: hi" in result.stdout


def test_a_config_warning_is_one_plain_line(run_cli: RunCli, tmp_path: Path) -> None:
    needs("vitalentum")
    config = tmp_path / "chatplug.toml"
    config.write_text('[defaults]\nmodle = "x"\n')
    result = run_cli(
        "chat", "--emulate", "-p", "vitalentum", "hi", env={"CHATPLUG_CONFIG": str(config)}
    )
    assert result.returncode == 0, result.stderr
    assert "Warning: " in result.stderr and "unknown key 'modle'" in result.stderr
    assert "ConfigWarning" not in result.stderr and "warnings.warn" not in result.stderr
