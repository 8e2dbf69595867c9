"""``chatplug serve`` with ``[[server.keys]]`` in the configuration file, and its
``--redis`` / ``--log-db`` options, as a subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict, Iterator

import openai
import pytest
from chatplug.emulation import RunningEmulator
from chatplug.errors import ConfigError
from chatplug.history import LogStore
from server_harness import ServerProcess, serve_args, start_server

KEY = "sk-serve-team-0123456789"
TABLE = '[[server.keys]]\nname = "team"\nkey_env = "TEAM_KEY"\nrpm = 2\n'
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def keyed_env(plugin_env: Dict[str, str], tmp_path: Path) -> Dict[str, str]:
    config = tmp_path / "chatplug.toml"
    config.write_text(TABLE, encoding="utf-8")
    return dict(plugin_env, CHATPLUG_CONFIG=str(config), TEAM_KEY=KEY)


@pytest.fixture
def keyed(
    keyed_env: Dict[str, str], upstream: RunningEmulator, tmp_path: Path
) -> Iterator[ServerProcess]:
    process = start_server(keyed_env, upstream, "--log-db", str(tmp_path / "served.db"))
    yield process
    process.stop()


def test_the_openai_sdk_gets_a_rate_limit_error_over_the_keys_rpm(keyed: ServerProcess) -> None:
    with openai.OpenAI(base_url=f"{keyed.url}/v1", api_key=KEY, max_retries=0) as client:
        for _ in range(2):
            client.chat.completions.create(model="servertest/echo", messages=MESSAGES)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="servertest/echo", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.code == "key_rate_limit_exceeded"
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60


def test_log_db_rows_carry_the_keys_name(keyed: ServerProcess, tmp_path: Path) -> None:
    with openai.OpenAI(base_url=f"{keyed.url}/v1", api_key=KEY, max_retries=0) as client:
        client.chat.completions.create(model="servertest/echo", messages=MESSAGES)  # type: ignore[arg-type]
    keyed.stop()  # the row is written after the answer: a graceful stop waits for it
    (row,) = LogStore(tmp_path / "served.db").latest(5)
    assert (row.source, row.key_name, row.provider) == ("serve", "team", "servertest")
    assert row.answer.startswith("Hello from echo: hi")


def test_a_public_address_with_named_keys_starts(
    keyed_env: Dict[str, str], upstream: RunningEmulator
) -> None:
    process = start_server(keyed_env, upstream, "--host", "0.0.0.0")
    try:
        assert not any("without authentication" in line for line in process.lines)
    finally:
        assert process.stop() == 0


def serve_exits(env: Dict[str, str], *args: str) -> "subprocess.CompletedProcess[str]":
    """``chatplug serve --port 0 <args>`` that is expected to stop before listening."""
    result = subprocess.run(
        serve_args("--port", "0", *args), env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "listening" not in result.stderr
    return result


def test_the_refusal_to_listen_publicly_names_the_server_keys(plugin_env: Dict[str, str]) -> None:
    result = serve_exits(plugin_env, "--host", "0.0.0.0")
    assert result.returncode == 2 and "[[server.keys]]" in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_key_whose_variable_is_unset_stops_serve_naming_the_variable(
    keyed_env: Dict[str, str], workers: str
) -> None:
    env = {name: value for name, value in keyed_env.items() if name != "TEAM_KEY"}
    result = serve_exits(env, "--workers", workers)
    assert result.returncode == ConfigError.exit_code  # before any worker started
    assert "(team): the environment variable TEAM_KEY is not set" in result.stderr


def test_a_redis_option_that_is_not_a_redis_url_stops_serve(plugin_env: Dict[str, str]) -> None:
    result = serve_exits(plugin_env, "--redis", "http://user:pw-123@redis:6379")
    assert "--redis" in result.stderr and "is not a Redis URL" in result.stderr
    assert "pw-123" not in result.stderr
