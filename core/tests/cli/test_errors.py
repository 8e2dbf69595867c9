"""How the command line prints errors (:mod:`chatplug.cli.errors`)."""

from __future__ import annotations

import pytest
from chatplug import ChatplugError, UpstreamConnectionError
from chatplug.cli.errors import report_error

SECRET = "s3cr3t/Pa55"


def test_report_error_masks_credentials_in_the_message_and_the_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = UpstreamConnectionError(
        f"cannot reach http://alice:{SECRET}@proxy:3128",
        provider="acme",
        hint=f"Check --proxy socks5h://bob:{SECRET}@127.0.0.1:1080",
    )
    report_error(error, debug=False)
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "http://***@proxy:3128" in err and "socks5h://***@127.0.0.1:1080" in err


def test_report_error_masks_an_unexpected_exceptions_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert report_error(ValueError(f"bad http://u:{SECRET}@h:1"), debug=False) == 1
    assert SECRET not in capsys.readouterr().err


def test_report_error_keeps_a_message_without_credentials(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report_error(ChatplugError("see https://medium.com/@someone"), debug=False)
    assert "Error: see https://medium.com/@someone" in capsys.readouterr().err
