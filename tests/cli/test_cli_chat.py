"""``chatplug chat`` as a subprocess, against the test plugin's emulator (``--emulate``)."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Callable, Dict, List

import pytest

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]
PopenCli = Callable[..., "subprocess.Popen[bytes]"]

EMULATED = ("chat", "--emulate", "-p", "clitest")


def test_chat_streams_the_emulators_reply_for_the_argument(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "Hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "turn 1: Hello ✓ [model=echo-1 system=- options={}]\n"
    assert result.stderr == ""


def test_chat_joins_piped_stdin_then_the_argument(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "summarise", input="my notes\nline two\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("turn 1: my notes\nline two\n\nsummarise ✓")


def test_chat_reads_the_prompt_from_stdin_alone(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, input="only stdin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("turn 1: only stdin ✓")


def test_chat_without_any_prompt_off_a_terminal_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, input="")
    assert result.returncode == 2
    assert "no prompt" in result.stderr


def test_chat_json_prints_one_object_with_text_provider_model_and_timings(
    run_cli: RunCli,
) -> None:
    result = run_cli(*EMULATED, "--json", "-m", "echo-2", "Hi")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["text"] == "turn 1: Hi ✓ [model=echo-2 system=- options={}]"
    assert payload["provider"] == "clitest"
    assert payload["model"] == "echo-2"
    timings = payload["timings"]
    assert 0 <= timings["first_chunk"] <= timings["total"]


def test_chat_resolves_provider_slash_model_and_aliases(run_cli: RunCli) -> None:
    slash = run_cli("chat", "--emulate", "-m", "clitest/echo-2", "--json", "a")
    assert json.loads(slash.stdout)["model"] == "echo-2", slash.stderr
    alias = run_cli(*EMULATED, "-m", "echo", "--json", "a")
    assert json.loads(alias.stdout)["model"] == "echo-1", alias.stderr


def test_chat_passes_system_prompt_and_parsed_options(run_cli: RunCli) -> None:
    result = run_cli(
        *EMULATED,
        "-s",
        "Be brief.",
        "-o",
        "temperature",
        "0.25",
        "-o",
        "max_tokens",
        "12",
        "-o",
        "safe",
        "true",
        "-o",
        "style",
        "plain",
        "Hi",
    )
    assert result.returncode == 0, result.stderr
    options = {"max_tokens": 12, "safe": True, "style": "plain", "temperature": 0.25}
    assert f"system=Be brief. options={json.dumps(options, sort_keys=True)}]" in result.stdout


def test_chat_refuses_an_option_that_has_its_own_flag(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "-o", "model", "x", "Hi")
    assert result.returncode == 2
    assert "--model" in result.stderr


def test_chat_no_stream_prints_the_whole_answer(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "--no-stream", "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "turn 1: Hi ✓ [model=echo-1 system=- options={}]\n"


def test_unknown_model_exits_5_listing_the_models(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "-m", "gpt-9", "Hi")
    assert result.returncode == 5
    error, hint = result.stderr.splitlines()
    assert error == "Error: clitest: unknown model 'gpt-9'; available models: echo-1, echo-2, echo"
    assert hint == "Hint: Run 'chatplug models' to list every model and alias."
    assert result.stdout == ""


def test_unknown_provider_exits_4(run_cli: RunCli) -> None:
    result = run_cli("chat", "-p", "nosuch", "Hi", env={"CHATPLUG_PLUGINS": "clitest"})
    assert result.returncode == 4
    assert result.stderr.startswith(
        "Error: unknown provider 'nosuch'; available providers: clitest"
    )


def test_upstream_http_error_exits_6_with_status_and_body(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "/status 400")
    assert result.returncode == 6
    assert "Traceback" not in result.stderr
    error = result.stderr.splitlines()[0]
    assert error.startswith("Error: clitest:")
    assert "400" in error and "emulated failure 400" in error


def test_upstream_authentication_error_exits_7(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "/status 401")
    assert result.returncode == 7
    assert "emulated failure 401" in result.stderr


def test_unreachable_upstream_exits_14_with_a_proxy_hint(run_cli: RunCli) -> None:
    # without --emulate the test plugin talks to 127.0.0.1:9, where nothing listens
    result = run_cli("chat", "-p", "clitest", "Hi")
    assert result.returncode == 14
    error, hint = result.stderr.splitlines()
    assert error.startswith("Error: clitest: ")
    assert "--proxy" in hint


def test_an_upstream_that_drops_mid_answer_keeps_the_partial_text_on_its_own_line(
    run_cli: RunCli,
) -> None:
    result = run_cli(*EMULATED, "/cut")
    assert result.stdout == "partial answer\n"
    assert result.returncode in (10, 14), result.stderr  # protocol or connection error
    error = result.stderr.splitlines()[0]
    assert error.startswith("Error: clitest: ") and "partial text" in error
    assert "Traceback" not in result.stderr


def test_an_invalid_proxy_is_a_configuration_error(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "--proxy", "ftp://proxy.invalid:21", "Hi")
    assert result.returncode == 12
    assert "ftp://proxy.invalid:21" in result.stderr.splitlines()[0]


def test_first_byte_timeout_exits_9(run_cli: RunCli) -> None:
    result = run_cli(*EMULATED, "--timeout", "1", "/stall")
    assert result.returncode == 9
    assert "timeout" in result.stderr.splitlines()[0]


def test_debug_prints_the_traceback(run_cli: RunCli) -> None:
    result = run_cli("--debug", *EMULATED, "/status 400")
    assert result.returncode == 6
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-2].startswith("Error: clitest:")


def test_emulate_explains_a_provider_without_an_emulator(run_cli: RunCli) -> None:
    result = run_cli("chat", "--emulate", "-p", "clinoemu", "Hi")
    assert result.returncode == 1
    error, hint = result.stderr.splitlines()
    assert error.startswith("Error: the provider 'clinoemu' ships no emulator; providers with one:")
    assert "clitest" in error and "--emulate" in hint


def test_emulate_serves_a_configured_provider_with_its_plugins_emulator(
    run_cli: RunCli, tmp_path: Path
) -> None:
    config = tmp_path / "chatplug.toml"
    config.write_text('[providers.myecho]\nplugin = "clitest"\n', encoding="utf-8")
    result = run_cli(
        "chat", "--emulate", "-p", "myecho", "--json", "Hi", env={"CHATPLUG_CONFIG": str(config)}
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["provider"] == "myecho"
    assert payload["text"].startswith("turn 1: Hi ✓")


def test_emulate_without_a_provider_emulates_the_one_that_would_answer(run_cli: RunCli) -> None:
    result = run_cli("chat", "--emulate", "--json", "Hi", env={"CHATPLUG_PLUGINS": "clitest"})
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["provider"], payload["model"]) == ("clitest", "echo-1")
    assert payload["text"].startswith("turn 1: Hi ✓")


def read_until(stream: IO[bytes], marker: bytes, limit: float = 30) -> bytes:
    """Read ``stream`` until ``marker`` shows up (one byte at a time; fine for tests)."""
    seen = b""
    deadline = time.monotonic() + limit
    while marker not in seen:
        assert time.monotonic() < deadline, seen
        byte = stream.read(1)
        assert byte, seen
        seen += byte
    return seen


def test_streams_each_piece_as_it_arrives(popen_cli: PopenCli) -> None:
    process = popen_cli(*EMULATED, "/slow")
    assert process.stdout is not None
    # the emulator sends a tick every 50 ms for a minute: seeing two proves streaming
    read_until(process.stdout, b"tick 1\n")
    process.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_exits_130_without_a_traceback(popen_cli: PopenCli) -> None:
    process = popen_cli(*EMULATED, "/slow", env={"PYTHONFAULTHANDLER": "1"})
    assert process.stdout is not None and process.stderr is not None
    read_until(process.stdout, b"tick 2\n")
    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:  # say where it was: the faulthandler dumps its stacks
        process.send_signal(signal.SIGABRT)
        process.wait(timeout=10)
        pytest.fail(f"still running 30 s after SIGINT; stderr: {process.stderr.read()[-4000:]!r}")
    assert code == 130
    stderr = process.stderr.read().decode()
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert "Unclosed" not in stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_broken_pipe_exits_quietly(popen_cli: PopenCli) -> None:
    process = popen_cli(*EMULATED, "/flood")
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(10) == b"flood floo"  # like `| head -c 10`
    process.stdout.close()
    assert process.wait(timeout=60) == 141
    assert process.stderr.read() == b""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell")
def test_broken_pipe_through_head_in_a_shell(
    cli_command: List[str], cli_env: Dict[str, str], tmp_path: Path
) -> None:
    command = " ".join(shlex.quote(part) for part in [*cli_command, *EMULATED, "/flood"])
    errors = tmp_path / "stderr"
    script = f'{command} 2>{errors} </dev/null | head -c 10; echo " ${{PIPESTATUS[0]}}"'
    result = subprocess.run(["bash", "-c", script], capture_output=True, env=cli_env, timeout=60)
    assert result.stdout == b"flood floo 141\n"
    assert (tmp_path / "stderr").read_bytes() == b""


@pytest.mark.parametrize("password", ["pa/ss", "p@ss:w/x", "pa:ss/x"])
def test_an_invalid_proxy_never_shows_its_password(run_cli: RunCli, password: str) -> None:
    secret = "S3cr3t-" + password
    result = run_cli(*EMULATED, "--proxy", f"http://alice:{secret}@127.0.0.1:9", "Hi")
    assert result.returncode == 12
    assert "S3cr3t" not in result.stderr
    assert "http://***@127.0.0.1:9" in result.stderr
