"""Reading and validating the file: TOML errors, wrong types and unknown keys name the file,
the key and the line (:mod:`chatplug.config.parse`, :mod:`chatplug.config.limits`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chatplug import ConfigError
from chatplug.config import Config, ConfigWarning

from .conftest import parse


def test_unparseable_toml_names_the_file_and_the_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse('[defaults]\nmodel = "a"\nproxy = \n')
    assert "/etc/chatplug.toml: invalid TOML" in str(caught.value)
    assert "line 3" in str(caught.value)


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[defaults]\nmodel = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        Config.from_file(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[defaults]\nretries = 'two'", "[defaults] retries must be an integer >= 0, not a string"),
        ("[defaults]\nproviders = 'a'", "[defaults] providers must be a list of strings"),
        ("[defaults]\ntimeout = -1", "[defaults] timeout"),
        ("[defaults]\ntimeout = {connect = 'x'}", "[defaults] timeout.connect must be a positive"),
        ("[defaults]\nfallback = 'random'", 'fallback must be "given" or "healthiest"'),
        ("[providers.a]\nenabled = 'yes'", "[providers.a] enabled must be true or false"),
        ("[providers.a]\nbase_url = 'ftp://x'", "[providers.a] base_url: 'ftp://x' is not an http"),
        ("[providers.a]\nproxy = 'ftp://h:1'", "[providers.a] proxy: 'ftp://h:1' is not a proxy"),
        ("[providers.a]\noptions = 3", "[providers.a] options must be a table"),
        ("[providers.a]\nmodels = [1]", "[providers.a] models must be a list of strings"),
        ("[providers.Bad]\nbase_url = 'http://x'", "'Bad' is not a provider id"),
        ("providers = 3", "[providers] must be a table"),
    ],
)
def test_a_wrong_type_names_the_file_the_key_and_what_is_expected(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert str(caught.value).startswith("/etc/chatplug.toml: ")
    assert expected in str(caught.value)


def test_an_unknown_key_is_a_warning_naming_the_file_and_the_key() -> None:
    with pytest.warns(ConfigWarning) as caught:
        config = parse('colour = "blue"\n[defaults]\nmodle = "x"\n')
    messages = [str(w.message) for w in caught]
    assert any("/etc/chatplug.toml: unknown key 'colour'" in m for m in messages)
    assert any("unknown key 'modle' in [defaults] (did you mean 'model'?)" in m for m in messages)
    assert config.defaults.model is None


def test_config_error_is_a_chatplug_error_with_its_own_exit_code() -> None:
    import chatplug

    assert issubclass(chatplug.ConfigError, chatplug.ChatplugError)
    assert ConfigError("x").exit_code == 12


def test_retries_counts_retries_after_the_first_attempt() -> None:
    assert parse("[defaults]\nretries = 0\n").defaults.retry.attempts == 1  # type: ignore[union-attr]
    config = parse("[defaults]\nretries = 2\n[defaults.retry]\nmax_time = 5\n")
    assert config.defaults.retry is not None
    assert (config.defaults.retry.attempts, config.defaults.retry.max_time) == (3, 5.0)
