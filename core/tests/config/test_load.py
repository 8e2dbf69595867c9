"""Where the configuration file is, and loading it (:mod:`chatplug.config.load`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from chatplug import ConfigError
from chatplug.config import config_path, load_config
from chatplug.config.load import user_config_dir


def test_the_default_path_is_in_the_user_config_dir(tmp_path: Path) -> None:
    assert config_path() == tmp_path / "xdg" / "chatplug" / "chatplug.toml"


def test_a_missing_file_at_the_default_path_is_an_empty_configuration() -> None:
    assert load_config().empty


def test_chatplug_config_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "my.toml"
    path.write_text('[defaults]\nmodel = "m2"\n')
    monkeypatch.setenv("CHATPLUG_CONFIG", str(path))
    assert config_path() == path
    assert load_config().defaults.model == "m2"


def test_an_empty_chatplug_config_turns_the_file_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATPLUG_CONFIG", "")
    assert config_path() is None
    assert load_config().empty


def test_a_missing_file_named_by_chatplug_config_is_an_empty_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHATPLUG_CONFIG", str(tmp_path / "not-yet.toml"))
    assert load_config().empty


def test_a_missing_file_given_explicitly_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: the configuration file does not exist"):
        load_config(tmp_path / "nope.toml")


def test_the_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[defaults]\nmodel = "a"\n')
    first = load_config(path)
    assert load_config(path) is first
    path.write_text('[defaults]\nmodel = "bb"\n')
    assert load_config(path).defaults.model == "bb"


def test_import_chatplug_reads_no_configuration(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("this is = = not toml")
    code = (
        "import sys, chatplug; "
        "print(any(m in sys.modules for m in ('chatplug.config', 'tomllib', 'platformdirs')))"
    )
    env = {**os.environ, "CHATPLUG_CONFIG": str(broken)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "xdg",
    [None, "/srv/config", "", "  ", "relative/dir", "/srv/config/ "],
    ids=["unset", "absolute", "empty", "blank", "relative", "trailing-space"],
)
def test_the_user_config_dir_is_platformdirs_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: Optional[str]
) -> None:
    import platformdirs

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert user_config_dir() == platformdirs.user_config_dir("chatplug")
