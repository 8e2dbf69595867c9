"""In-process checks of the CLI's helpers: error reporting, exit codes, prompt and options."""

from __future__ import annotations

from typing import Any

import pytest
from chatplug import ModelNotFoundError, UpstreamConnectionError
from chatplug.cli import (
    EXIT_INTERRUPTED,
    exit_code_for,
    join_prompt,
    parse_option_value,
    report_error,
    run_guarded,
)


def test_report_error_prints_error_and_hint_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code = report_error(ModelNotFoundError("x", ["a", "b"], provider="acme"), debug=False)
    assert code == 5
    assert capsys.readouterr().err.splitlines() == [
        "Error: acme: unknown model 'x'; available models: a, b",
        "Hint: Run 'chatplug models' to list every model and alias.",
    ]


def test_report_error_keeps_a_multi_line_body_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report_error(UpstreamConnectionError("reset\nby\n  peer", provider="acme"), debug=False)
    assert capsys.readouterr().err.splitlines()[0] == "Error: acme: reset by peer"


def test_an_unexpected_exception_is_a_bug_report_with_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert report_error(KeyError("k"), debug=False) == 1
    error, hint = capsys.readouterr().err.splitlines()
    assert error == "Error: unexpected KeyError: 'k'"
    assert "--debug" in hint


def test_debug_prints_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise UpstreamConnectionError("down", provider="acme")
    except UpstreamConnectionError as error:
        assert report_error(error, debug=True) == 14
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_exit_codes_of_interrupts_and_click_exits() -> None:
    assert exit_code_for(KeyboardInterrupt()) == EXIT_INTERRUPTED
    assert exit_code_for(SystemExit(3)) is None


def test_run_guarded_exits_with_the_errors_code(capsys: pytest.CaptureFixture[str]) -> None:
    def fail() -> Any:
        raise ModelNotFoundError("x", [])

    with pytest.raises(SystemExit) as exit_info:
        run_guarded(fail, debug=False)
    assert exit_info.value.code == 5
    assert capsys.readouterr().err.startswith("Error: unknown model 'x'")
    assert run_guarded(lambda: 42) == 42


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("0.2", 0.2),
        ("12", 12),
        ("true", True),
        ("Off", False),
        ("null", None),
        ("plain text", "plain text"),
        ("1e3", 1000.0),
    ],
)
def test_option_values_are_parsed(raw: str, parsed: Any) -> None:
    value = parse_option_value(raw)
    assert value == parsed and type(value) is type(parsed)


def test_prompt_joins_piped_text_before_the_argument() -> None:
    assert join_prompt("notes\n", "summarise") == "notes\n\nsummarise"
    assert join_prompt(None, "hi") == "hi"
    assert join_prompt("  \n", None) is None
