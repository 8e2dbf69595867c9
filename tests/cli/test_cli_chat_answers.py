"""What ``chatplug chat`` shows besides text: usage, finish reason, reasoning, tool calls,
who answered; and what it sends besides text: images (``-a``) and a schema (``--schema``).

Against chatplug-openai's emulator (``--emulate -p openai``), whose answers reflect the
request: an o-series model reasons first, ``max_tokens`` cuts with ``length``, image parts
are counted ("I see 1 image"), ``json_schema`` answers an object of the required fields.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]

OPENAI = ("chat", "--emulate", "-p", "openai")
REASONING = ("chat", "--emulate", "-m", "openai/o4-mini")
#: a 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def json_answer(result: "subprocess.CompletedProcess[str]") -> Dict[str, Any]:
    assert result.returncode == 0, result.stderr
    payload: Dict[str, Any] = json.loads(result.stdout)
    return payload


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "pixel.png"
    path.write_bytes(PNG)
    return path


def test_chat_json_carries_usage_finish_reason_and_who_answered(run_cli: RunCli) -> None:
    payload = json_answer(run_cli(*OPENAI, "--json", "Hello there"))
    assert payload["text"].startswith("Héllo from the émulator ✓ turn 1: «Hello there»")
    assert (payload["provider"], payload["model"]) == ("openai", "gpt-4o-mini")
    assert payload["finish_reason"] == "stop"
    usage = payload["usage"]
    assert usage["input_tokens"] == 2  # the emulator counts the words of the messages
    assert usage["output_tokens"] > 0
    assert usage["reasoning_tokens"] == 0 and usage["cached_tokens"] == 0
    assert payload["tool_calls"] == [] and payload["reasoning"] is None


def test_chat_json_usage_is_null_when_the_plugin_reports_none(run_cli: RunCli) -> None:
    payload = json_answer(run_cli("chat", "--emulate", "-p", "clitest", "--json", "Hi"))
    assert payload["usage"] is None
    assert payload["finish_reason"] == "stop"  # a text-only plugin that ended cleanly


def test_max_tokens_option_cuts_the_answer_with_finish_length(run_cli: RunCli) -> None:
    payload = json_answer(run_cli(*OPENAI, "-o", "max_tokens", "3", "--json", "Hi"))
    assert payload["finish_reason"] == "length"
    assert payload["text"] == "Héllo from the"  # one token per delta in the emulator
    assert payload["usage"]["output_tokens"] == 3


def test_chat_json_carries_the_reasoning(run_cli: RunCli) -> None:
    payload = json_answer(run_cli(*REASONING, "--json", "Why?"))
    assert payload["reasoning"] == "Thinking about «Why?» ✓"
    assert payload["usage"]["reasoning_tokens"] == 6  # one per reasoning delta
    assert payload["text"].startswith("Héllo from the émulator")
    assert payload["model"] == "o4-mini"


def test_reasoning_streams_on_stderr_plainly_off_a_terminal(run_cli: RunCli) -> None:
    result = run_cli(*REASONING, "Why?")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Thinking about «Why?» ✓\n"
    assert "\x1b[" not in result.stderr
    assert result.stdout.startswith("Héllo from the émulator ✓ turn 1: «Why?»")
    assert "Thinking" not in result.stdout


def test_no_reasoning_hides_the_reasoning(run_cli: RunCli) -> None:
    result = run_cli(*REASONING, "--no-reasoning", "Why?")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("Héllo from the émulator")


def test_verbose_says_who_answered_on_stderr(run_cli: RunCli) -> None:
    result = run_cli(*OPENAI, "-v", "-o", "max_tokens", "2", "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "[openai/gpt-4o-mini, finish length]\n"


def test_who_answered_is_not_said_off_a_terminal_without_verbose(run_cli: RunCli) -> None:
    result = run_cli(*OPENAI, "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")
def test_on_a_terminal_reasoning_is_dimmed_and_who_answered_is_said(
    cli_command: List[str], cli_env: Dict[str, str]
) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {key: value for key, value in cli_env.items() if key != "NO_COLOR"}
    child = pexpect.spawn(
        cli_command[0],
        [*cli_command[1:], *REASONING, "Why?"],
        env=env,
        encoding="utf-8",
        timeout=30,
    )
    child.expect(pexpect.EOF)
    child.close()
    output = child.before
    assert child.exitstatus == 0, output
    assert "\x1b[2mThinking\x1b[22m" in output  # each reasoning piece dimmed
    assert "Héllo from the émulator" in output
    assert "\x1b[2m[openai/o4-mini]\x1b[22m" in output


def test_attach_sends_an_image_file(run_cli: RunCli, image: Path) -> None:
    payload = json_answer(run_cli(*OPENAI, "-a", str(image), "--json", "What is it?"))
    assert "«What is it?» I see 1 image." in payload["text"]
    assert payload["usage"]["input_tokens"] == 3 + 85  # the emulator's count per image


def test_attach_is_repeatable_and_passes_https_urls_through(run_cli: RunCli, image: Path) -> None:
    result = run_cli(*OPENAI, "-a", str(image), "-a", "https://example.com/cat.png", "Two?")
    assert result.returncode == 0, result.stderr
    assert "I see 2 images." in result.stdout


def test_attach_refuses_a_file_that_is_not_an_image(run_cli: RunCli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello", encoding="utf-8")
    result = run_cli(*OPENAI, "-a", str(notes), "Hi")
    assert result.returncode == 2
    assert "a text/plain file, not an image" in result.stderr


def test_attach_refuses_a_missing_file(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(*OPENAI, "-a", str(tmp_path / "nothing.png"), "Hi")
    assert result.returncode == 2
    assert "is neither an image file nor an http(s) URL" in result.stderr


def test_attach_refuses_an_image_over_20_mib(run_cli: RunCli, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as file:
        file.truncate(20 * 1024 * 1024 + 1)
    result = run_cli(*OPENAI, "-a", str(big), "Hi")
    assert result.returncode == 2
    assert "larger than 20 MiB" in result.stderr


def test_attach_to_a_text_only_provider_is_refused_before_sending(
    run_cli: RunCli, image: Path
) -> None:
    result = run_cli("chat", "--emulate", "-p", "vitalentum", "-a", str(image), "Hi")
    assert result.returncode == 13  # UnsupportedCapabilityError
    assert result.stderr.startswith("Error: vitalentum: the model vitalentum/")
    assert "does not support images; models that do:" in result.stderr
    assert "openai/gpt-4o-mini" in result.stderr
    assert result.stdout == ""


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "people": {"type": "integer", "minimum": 3}},
    "required": ["city", "people"],
}


def test_schema_prints_the_json_answer(run_cli: RunCli) -> None:
    result = run_cli(*OPENAI, "--schema", json.dumps(SCHEMA), "Where?")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"city": "city ✓", "people": 3}


def test_schema_from_a_file_parses_the_answer_in_json_mode(run_cli: RunCli, tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    payload = json_answer(run_cli(*OPENAI, "--schema", f"@{schema}", "--json", "Where?"))
    assert payload["parsed"] == {"city": "city ✓", "people": 3}
    assert json.loads(payload["text"]) == payload["parsed"]


def test_schema_that_is_not_json_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli(*OPENAI, "--schema", "{city: string}", "Where?")
    assert result.returncode == 2
    assert "the schema is not valid JSON" in result.stderr


def test_schema_to_a_model_without_json_schema_is_refused(run_cli: RunCli) -> None:
    result = run_cli("chat", "--emulate", "-p", "vitalentum", "--schema", "{}", "Where?")
    assert result.returncode == 13
    assert "does not support json_schema" in result.stderr


def test_an_answer_of_tool_calls_only_is_printed_as_the_tool_calls(run_cli: RunCli) -> None:
    result = run_cli("chat", "--emulate", "-p", "clitest", "/tool")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"city": "Paris"}'},
        }
    ]


def test_chat_json_carries_the_tool_calls_and_their_finish(run_cli: RunCli) -> None:
    payload = json_answer(run_cli("chat", "--emulate", "-p", "clitest", "--json", "/tool"))
    assert payload["text"] == "" and payload["finish_reason"] == "tool_calls"
    assert payload["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
