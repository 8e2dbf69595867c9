"""The ``[server]`` table: the Redis URL and the ``[[server.keys]]`` entries, validated."""

from __future__ import annotations

import warnings

import pytest
from chatplug.config import ConfigWarning
from chatplug.config.display import effective, render
from chatplug.config.server import ServerConfig, ServerKey
from chatplug.errors import ConfigError

from .conftest import parse

TABLE = """
[server]
redis_url = "redis://redis:6379/0"

[[server.keys]]
name = "team-a"
key_env = "TEAM_A_KEY"
rpm = 60
tpm = 200000

[[server.keys]]
name = "batch"
key_env = "BATCH_KEY"
"""


def test_the_server_table_is_read() -> None:
    server = parse(TABLE).server
    assert server == ServerConfig(
        "redis://redis:6379/0",
        (ServerKey("team-a", "TEAM_A_KEY", rpm=60, tpm=200000), ServerKey("batch", "BATCH_KEY")),
    )


def test_a_file_without_the_table_has_an_empty_server_config() -> None:
    assert parse("[defaults]\nmodel = 'x'\n").server == ServerConfig()


def test_a_key_comes_from_its_variable_when_resolved() -> None:
    (key, _) = parse(TABLE).server.keys
    assert key.resolve({"TEAM_A_KEY": "k-1"}) == "k-1"
    with pytest.raises(ConfigError, match=r"#1 \(team-a\): the environment variable TEAM_A_KEY"):
        key.resolve({})


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            'name = "t"\nkey_env = "K"\nrpm = "60"',
            r"#1 \(t\): 'rpm' must be a positive integer, not a string",
        ),
        (
            'name = "t"\nkey_env = "K"\ntpm = 0',
            r"#1 \(t\): 'tpm' must be a positive integer, not an integer \(0\)",
        ),
        ('name = "t"\nkey_env = "K"\nrpn = 60', r"#1: unknown setting\(s\) rpn"),
        ('name = "t two"\nkey_env = "K"', r"#1: 'name' must be 1-64 letters"),
        ('name = "t"', r"#1 \(t\): give exactly one of 'key_env' and 'key'"),
    ],
)
def test_an_invalid_key_entry_names_the_file_the_entry_and_the_setting(
    entry: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=r"/etc/chatplug.toml: \[\[server.keys\]\] " + message):
        parse(f"[[server.keys]]\n{entry}\n")


def test_a_name_used_twice_is_an_error() -> None:
    text = (
        '[[server.keys]]\nname = "t"\nkey_env = "A"\n[[server.keys]]\nname = "t"\nkey_env = "B"\n'
    )
    with pytest.raises(ConfigError, match="the name 't' is used twice"):
        parse(text)


def test_a_literal_key_is_accepted_with_a_warning_that_does_not_show_it() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        server = parse('[[server.keys]]\nname = "t"\nkey = "sk-literal-123"\n').server
    assert server.keys[0].resolve({}) == "sk-literal-123"
    assert "sk-literal-123" not in repr(server)
    (warning,) = caught
    assert warning.category is ConfigWarning and "prefer 'key_env'" in str(warning.message)
    assert "sk-literal-123" not in str(warning.message)


def test_a_redis_url_of_another_scheme_is_an_error_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse('[server]\nredis_url = "http://user:pw-123@redis:6379"\n')
    assert "[server] redis_url" in str(caught.value) and "not a Redis URL" in str(caught.value)
    assert "pw-123" not in str(caught.value)


@pytest.mark.parametrize("url", ["redis://r:6379/0", "rediss://r:6380", "unix:///run/redis.sock"])
def test_redis_tls_and_unix_socket_urls_are_accepted(url: str) -> None:
    assert parse(f'[server]\nredis_url = "{url}"\n').server.redis_url == url


def test_an_unknown_key_in_the_server_table_is_a_warning() -> None:
    with pytest.warns(ConfigWarning, match=r"unknown key 'redis' in \[server\]"):
        parse('[server]\nredis = "redis://r"\n')


def test_the_server_table_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match=r"\[server\] must be a table, not a string"):
        parse('server = "redis://r"\n')


def test_config_show_renders_the_table_with_credentials_masked() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        config = parse(
            '[server]\nredis_url = "redis://:pw-123@r:6379/0"\n'
            '[[server.keys]]\nname = "t"\nkey = "sk-literal-123"\nrpm = 5\n'
        )
    text = render(effective(config, {}))
    assert '[server]\nredis_url = "redis://***@r:6379/0"' in text
    assert '[[server.keys]]\nname = "t"\nkey = "***"\nrpm = 5' in text
    assert "pw-123" not in text and "sk-literal-123" not in text
