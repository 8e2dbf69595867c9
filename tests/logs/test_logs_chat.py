"""``chatplug chat`` logs each exchange; ``-c`` / ``--cid`` continue a logged conversation;
``chatplug logs`` finds and counts them.  Each command is a fresh process."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]
Logged = Callable[..., List[Dict[str, Any]]]

OPENAI = ("chat", "--emulate", "-p", "openai")
CLITEST = ("chat", "--emulate", "-p", "clitest")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def ok(result: "subprocess.CompletedProcess[str]") -> "subprocess.CompletedProcess[str]":
    assert result.returncode == 0, result.stderr
    return result


def test_chat_logs_the_exchange_by_default(run_cli: RunCli, logged: Logged) -> None:
    payload = json.loads(ok(run_cli(*OPENAI, "-o", "temperature", "0.5", "--json", "Hi")).stdout)
    (exchange,) = logged()
    assert exchange["id"] == payload["exchange_id"]
    assert exchange["conversation_id"] == payload["conversation_id"]
    assert exchange["source"] == "cli"
    assert (exchange["provider"], exchange["model"]) == ("openai", "gpt-4o-mini")
    assert exchange["messages"] == [{"role": "user", "content": "Hi"}]
    assert exchange["answer"] == payload["text"]
    assert exchange["options"] == {"temperature": 0.5}
    assert exchange["finish_reason"] == "stop"
    assert exchange["usage"] == {**payload["usage"], "estimated": False}
    assert exchange["error"] is None


def test_the_log_keeps_reasoning_and_finish_length(run_cli: RunCli, logged: Logged) -> None:
    ok(run_cli("chat", "--emulate", "-m", "openai/o4-mini", "-o", "max_tokens", "9", "Why?"))
    (exchange,) = logged()
    assert exchange["reasoning"] == "Thinking about «Why?» ✓"
    assert exchange["finish_reason"] == "length"
    assert exchange["usage"]["reasoning_tokens"] == 6


def test_the_log_keeps_tool_calls(run_cli: RunCli, logged: Logged) -> None:
    ok(run_cli(*CLITEST, "/tool"))
    (exchange,) = logged()
    assert exchange["finish_reason"] == "tool_calls"
    assert exchange["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"city": "Paris"}'},
        }
    ]


def test_continue_sends_the_earlier_turns(run_cli: RunCli, logged: Logged) -> None:
    first = json.loads(ok(run_cli(*OPENAI, "--json", "-s", "Be kind.", "Hi")).stdout)
    second = json.loads(ok(run_cli(*OPENAI, "--json", "-c", "And now?")).stdout)
    # the emulator counts the user turns of the conversation it receives
    assert "turn 2: «And now?»" in second["text"]
    assert second["conversation_id"] == first["conversation_id"]
    newest, oldest = logged()
    assert newest["prior_messages"] == 3  # system, user, assistant: not stored again
    assert newest["messages"] == [{"role": "user", "content": "And now?"}]
    assert oldest["messages"][0] == {"role": "system", "content": "Be kind."}


def test_continue_keeps_to_the_conversations_provider_and_model(run_cli: RunCli) -> None:
    ok(run_cli("chat", "--emulate", "-m", "openai/o4-mini", "--no-reasoning", "Hi"))
    payload = json.loads(ok(run_cli("chat", "--emulate", "-c", "--json", "Again")).stdout)
    assert (payload["provider"], payload["model"]) == ("openai", "o4-mini")
    assert "turn 2: «Again»" in payload["text"]


def test_cid_continues_the_given_conversation(run_cli: RunCli) -> None:
    first = json.loads(ok(run_cli(*CLITEST, "--json", "one")).stdout)
    ok(run_cli(*CLITEST, "elsewhere"))
    again = json.loads(
        ok(run_cli(*CLITEST, "--json", "--cid", first["conversation_id"], "two")).stdout
    )
    assert again["text"].startswith("turn 2: two ✓")
    assert again["conversation_id"] == first["conversation_id"]


def test_each_continue_adds_one_turn_to_the_conversation(run_cli: RunCli) -> None:
    ok(run_cli(*CLITEST, "one"))
    ok(run_cli(*CLITEST, "-c", "two"))
    third = ok(run_cli(*CLITEST, "-c", "three"))
    assert third.stdout.startswith("turn 3: three ✓")


def test_continue_without_any_logged_chat_exits_16(run_cli: RunCli) -> None:
    result = run_cli(*CLITEST, "-c", "Hi")
    assert result.returncode == 16
    assert result.stderr.startswith("Error: there is no logged chat to continue")


def test_an_unknown_conversation_id_exits_16(run_cli: RunCli) -> None:
    result = run_cli(*CLITEST, "--cid", "01NOSUCHCONVERSATION", "Hi")
    assert result.returncode == 16
    assert "no logged conversation has the id '01NOSUCHCONVERSATION'" in result.stderr


def test_continue_and_cid_together_are_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli(*CLITEST, "-c", "--cid", "x", "Hi")
    assert result.returncode == 2


def test_continuing_a_chat_with_an_image_drops_it_with_a_note(
    run_cli: RunCli, logged: Logged, tmp_path: Path
) -> None:
    image = tmp_path / "pixel.png"
    image.write_bytes(PNG)
    ok(run_cli(*OPENAI, "-a", str(image), "Look"))
    (first,) = logged()
    assert first["messages"][0]["content"][1]["type"] == "image_ref"  # never the data
    result = ok(run_cli(*OPENAI, "-c", "And?"))
    assert "turn 2: «And?»" in result.stdout
    assert result.stderr.startswith("Note: an image of the logged conversation cannot be sent")
    newest, _ = logged()
    assert newest["prior_messages"] == 2 and newest["messages"][0]["content"] == "And?"


def test_logs_q_finds_a_word_from_an_answer(run_cli: RunCli, logged: Logged) -> None:
    ok(run_cli(*CLITEST, "parsley"))
    ok(run_cli(*CLITEST, "rosemary"))
    found = logged("-q", "émulator")  # not in the clitest answers
    assert found == []
    (hit,) = logged("-q", "rosemary")
    assert hit["answer"].startswith("turn 1: rosemary ✓")
    ok(run_cli(*OPENAI, "thyme"))
    (answer_hit,) = logged("-q", "émulator")  # a word of the answer only
    assert answer_hit["messages"] == [{"role": "user", "content": "thyme"}]


def test_logs_stats_sums_the_usage(run_cli: RunCli) -> None:
    totals = [0, 0]
    for prompt in ("one", "two words", "three more words"):
        usage = json.loads(ok(run_cli(*OPENAI, "--json", prompt)).stdout)["usage"]
        totals[0] += usage["input_tokens"]
        totals[1] += usage["output_tokens"]
    ok(run_cli(*CLITEST, "no usage here"))
    stats = {
        (row["provider"], row["model"]): row
        for row in json.loads(ok(run_cli("logs", "stats", "--json")).stdout)
    }
    openai = stats["openai", "gpt-4o-mini"]
    assert openai["exchanges"] == 3
    assert [openai["input_tokens"], openai["output_tokens"]] == totals
    assert stats["clitest", "echo-1"]["without_usage"] == 1
    table = ok(run_cli("logs", "stats")).stdout
    assert "1 exchange(s) without usage" in table


def test_no_log_leaves_no_row(run_cli: RunCli, logged: Logged) -> None:
    payload = json.loads(ok(run_cli(*CLITEST, "--no-log", "--json", "secret")).stdout)
    assert payload["exchange_id"] is None
    assert logged() == []


def test_logs_off_leaves_no_row_until_logs_on(run_cli: RunCli, logged: Logged) -> None:
    assert ok(run_cli("logs", "off")).stdout.startswith("Logging is off")
    ok(run_cli(*CLITEST, "while off"))
    assert logged() == []
    ok(run_cli("logs", "on"))
    ok(run_cli(*CLITEST, "while on"))
    (exchange,) = logged()
    assert exchange["messages"][0]["content"] == "while on"


def test_continue_works_while_logging_is_off_and_logs_nothing(
    run_cli: RunCli, logged: Logged
) -> None:
    ok(run_cli(*CLITEST, "one"))
    ok(run_cli("logs", "off"))
    assert ok(run_cli(*CLITEST, "-c", "two")).stdout.startswith("turn 2: two ✓")
    assert len(logged()) == 1


def test_a_failed_exchange_keeps_its_partial_text(run_cli: RunCli, logged: Logged) -> None:
    result = run_cli(*CLITEST, "/cut")
    assert result.returncode in (10, 14), result.stderr
    (exchange,) = logged()
    assert exchange["answer"] == "partial answer"
    assert exchange["error"]["type"] in ("StreamProtocolError", "UpstreamConnectionError")
    assert exchange["finish_reason"] is None


def test_a_request_refused_before_sending_is_not_logged(run_cli: RunCli, logged: Logged) -> None:
    assert run_cli(*CLITEST, "-m", "gpt-9", "Hi").returncode == 5
    assert logged() == []


def test_an_unusable_database_warns_once_and_the_chat_goes_on(
    run_cli: RunCli, tmp_path: Path
) -> None:
    not_a_db = tmp_path / "not.db"
    not_a_db.write_bytes(b"this is not a SQLite database, not at all" * 100)
    result = run_cli(*CLITEST, "Hi", env={"CHATPLUG_LOGS_DB": str(not_a_db)})
    assert result.returncode == 0
    assert result.stdout.startswith("turn 1: Hi ✓")
    (warning,) = result.stderr.splitlines()
    assert warning.startswith(f"Warning: this chat is not logged ({not_a_db}):")


def test_a_database_that_fails_on_write_warns_and_the_chat_goes_on(
    run_cli: RunCli, db: Path
) -> None:
    ok(run_cli(*CLITEST, "first"))  # the database exists
    import sqlite3

    with sqlite3.connect(db) as connection:  # every insert now fails
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON exchanges BEGIN"
            " SELECT RAISE(ABORT, 'refused by a test trigger'); END"
        )
    result = run_cli(*CLITEST, "second")
    assert result.returncode == 0
    assert result.stdout.startswith("turn 1: second ✓")
    (warning,) = result.stderr.splitlines()
    assert "Warning: this chat is not logged" in warning and "refused by a test trigger" in warning


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")
def test_interactive_chat_logs_each_turn_into_one_conversation(
    cli_command: List[str], cli_env: Dict[str, str], logged: Logged
) -> None:
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        cli_command[0],
        [*cli_command[1:], *CLITEST],
        env=cli_env,
        encoding="utf-8",
        timeout=30,
    )
    for line, reply in (("hello", "turn 1: hello ✓"), ("again", "turn 2: again ✓")):
        child.expect_exact("> ")
        child.sendline(line)
        child.expect_exact(reply)
    child.expect_exact("> ")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    newest, oldest = logged()
    assert newest["conversation_id"] == oldest["conversation_id"]
    assert [newest["prior_messages"], newest["messages"]] == [
        2,
        [{"role": "user", "content": "again"}],
    ]
