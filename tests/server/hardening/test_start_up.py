"""What ``chatplug serve`` refuses when it starts: an API key clients could never send
(surrounding whitespace, control characters: it would lock every client out), and a limit
that is not a number of seconds."""

from __future__ import annotations

import subprocess
from typing import Dict

import pytest
from chatplug.server import create_app
from server_harness import serve_args

pytestmark = pytest.mark.timeout(60)

BAD_KEYS = {
    "leading-space": " secret",
    "trailing-newline": "secret\n",
    "tab-inside": "sec\tret",
    "escape": "secret\x1b",
}


def serve(env: Dict[str, str], *extra: str) -> "subprocess.CompletedProcess[str]":
    """``chatplug serve`` that is expected to exit at once (killed after 20 s)."""
    try:
        return subprocess.run(
            serve_args("--port", "0", *extra), env=env, capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the server started with an API key no client can send")


@pytest.mark.parametrize("key", BAD_KEYS.values(), ids=list(BAD_KEYS))
def test_serve_refuses_an_api_key_option_no_client_can_send(
    faulty_env: Dict[str, str], key: str
) -> None:
    result = serve(faulty_env, "--api-key", key)
    assert result.returncode == 2
    assert "--api-key" in result.stderr
    assert "whitespace" in result.stderr or "control characters" in result.stderr


def test_serve_refuses_a_chatplug_api_key_with_a_trailing_newline(
    faulty_env: Dict[str, str],
) -> None:
    result = serve(dict(faulty_env, CHATPLUG_API_KEY="secret\n"))
    assert result.returncode == 2
    assert "CHATPLUG_API_KEY" in result.stderr
    assert "whitespace" in result.stderr


@pytest.mark.parametrize("key", BAD_KEYS.values(), ids=list(BAD_KEYS))
def test_create_app_refuses_an_api_key_no_client_can_send(key: str) -> None:
    with pytest.raises(ValueError, match=r"whitespace|control characters"):
        create_app(api_key=key)


def test_create_app_refuses_such_a_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATPLUG_API_KEY", "secret ")
    with pytest.raises(ValueError, match="CHATPLUG_API_KEY"):
        create_app()


@pytest.mark.parametrize("option", ["--head-timeout", "--keepalive", "--body-timeout"])
def test_a_limit_option_that_is_not_a_positive_number_is_a_usage_error(
    faulty_env: Dict[str, str], option: str
) -> None:
    result = serve(faulty_env, option, "-1")
    assert result.returncode == 2
    assert option in result.stderr
