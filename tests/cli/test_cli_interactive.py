"""The interactive ``chatplug chat`` loop, driven through a pseudo-terminal (pexpect)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

import pytest

pexpect = pytest.importorskip("pexpect")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

TIMEOUT = 30


def spawn(command: List[str], env: Dict[str, str], *args: str) -> "pexpect.spawn":
    child = pexpect.spawn(
        command[0],
        [*command[1:], *args],
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(24, 200),
    )
    child.expect_exact("Ctrl-C to stop an answer.")
    return child


def close(child: "pexpect.spawn") -> int:
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1)


def test_two_turns_share_the_conversation(cli_command: List[str], cli_env: Dict[str, str]) -> None:
    child = spawn(cli_command, cli_env, "chat", "--emulate", "-p", "clitest", "-s", "Be nice.")
    child.expect_exact("> ")
    child.sendline("hello")
    child.expect_exact("turn 1: hello ✓ [model=echo-1 system=Be nice.")
    child.expect_exact("> ")
    child.sendline("and again")
    # the emulator counts the user turns of the conversation it receives
    child.expect_exact("turn 2: and again ✓ [model=echo-1 system=Be nice.")
    child.expect_exact("> ")
    child.sendline("exit")
    assert close(child) == 0


def test_ctrl_d_leaves_and_the_history_file_keeps_the_lines(
    cli_command: List[str], cli_env: Dict[str, str]
) -> None:
    child = spawn(cli_command, cli_env, "chat", "--emulate", "-p", "clitest")
    child.expect_exact("> ")
    child.sendline("remember me")
    child.expect_exact("turn 1: remember me")
    child.expect_exact("> ")
    child.sendeof()
    assert close(child) == 0
    assert "remember me" in Path(cli_env["CHATPLUG_HISTORY_FILE"]).read_text(encoding="utf-8")


def test_ctrl_c_stops_the_answer_but_not_the_chat(
    cli_command: List[str], cli_env: Dict[str, str]
) -> None:
    child = spawn(cli_command, cli_env, "chat", "--emulate", "-p", "clitest")
    child.expect_exact("> ")
    child.sendline("/slow")
    child.expect_exact("tick 2")
    child.sendintr()
    child.expect_exact("[answer stopped]")
    child.expect_exact("> ")
    child.sendline("still here?")
    # the stopped answer stays in the conversation: this is the second user turn
    child.expect_exact("turn 2: still here?")
    child.expect_exact("> ")
    child.sendline("quit")
    assert close(child) == 0
    assert "Traceback" not in child.before


def test_an_error_is_reported_and_the_chat_goes_on(
    cli_command: List[str], cli_env: Dict[str, str]
) -> None:
    child = spawn(cli_command, cli_env, "chat", "--emulate", "-p", "clitest")
    child.expect_exact("> ")
    child.sendline("/status 400")
    child.expect_exact("Error: clitest:")
    child.expect_exact("> ")
    child.sendline("fine now")
    # the failed turn left the conversation: this is turn 1 again
    child.expect_exact("turn 1: fine now")
    child.expect_exact("> ")
    child.sendline("exit")
    assert close(child) == 0


def test_json_without_a_prompt_on_a_terminal_is_a_usage_error(
    cli_command: List[str], cli_env: Dict[str, str]
) -> None:
    child = pexpect.spawn(
        cli_command[0],
        [*cli_command[1:], "chat", "--emulate", "-p", "clitest", "--json"],
        env=cli_env,
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    child.expect_exact("--json needs a prompt")
    assert close(child) == 2


def test_reasoning_shows_dimmed_before_each_answer(
    cli_command: List[str], cli_env: Dict[str, str]
) -> None:
    env = {key: value for key, value in cli_env.items() if key != "NO_COLOR"}
    child = spawn(cli_command, env, "chat", "--emulate", "-m", "openai/o4-mini")
    child.expect_exact("> ")
    child.sendline("why")
    child.expect_exact("\x1b[2mThinking\x1b[22m")
    child.expect_exact("Héllo from the émulator ✓ turn 1: «why»")
    child.expect_exact("> ")
    child.sendline("exit")
    assert close(child) == 0


def test_an_answer_of_tool_calls_only_stays_out_of_the_conversation(
    cli_command: List[str], cli_env: Dict[str, str]
) -> None:
    child = spawn(cli_command, cli_env, "chat", "--emulate", "-p", "clitest")
    child.expect_exact("> ")
    child.sendline("/tool")
    child.expect_exact("> ")
    child.sendline("next")
    # neither the tool call nor its question joined the conversation: this is turn 1
    child.expect_exact("turn 1: next ✓")
    child.expect_exact("> ")
    child.sendline("exit")
    assert close(child) == 0
