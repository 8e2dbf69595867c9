"""Limits on the configuration file: its size and how deep it nests
(:mod:`chatplug.config.limits`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chatplug import ConfigError
from chatplug.config import Config, load_config
from chatplug.config.limits import MAX_BYTES, MAX_DEPTH

from .conftest import parse


def test_a_file_larger_than_the_limit_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text("# padding\n" * (MAX_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match=r"huge\.toml: the configuration file is larger than"):
        load_config(path)


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    line = '[defaults]\nmodel = "m"\n'
    path.write_text(line + "#" * (MAX_BYTES - len(line)))
    assert load_config(path).defaults.model == "m"


def test_an_endless_file_is_read_no_further_than_the_limit() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    with pytest.raises(ConfigError, match="larger than"):
        Config.from_file("/dev/zero")


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("{a = ", "}"), ("[", "]"), ("{a = [", "]}")],
    ids=["tables", "arrays", "both"],
)
def test_nesting_deeper_than_the_limit_is_an_error_naming_the_line(
    opening: str, closing: str
) -> None:
    deep = "x = " + opening * 500 + "1" + closing * 500
    with pytest.raises(ConfigError) as caught:
        parse(f'[defaults]\nmodel = "m"\n\n[providers.a]\n{deep}\n')
    message = str(caught.value)
    assert message.startswith("/etc/chatplug.toml: line 5: ")
    assert f"nest more than {MAX_DEPTH} levels" in message


def test_nesting_at_the_limit_is_accepted() -> None:
    depth = MAX_DEPTH - 3  # inside [providers.a] and its key
    config = parse("[providers.a]\nx = " + "[" * depth + "1" + "]" * depth + "\n")
    assert "x" in config.providers["a"].extra


def test_brackets_inside_strings_and_comments_are_not_nesting() -> None:
    many = "[{" * 100
    config = parse(
        f'[providers.a]\nbasic = "{many}\\"{many}"\nliteral = \'{many}\'\n'
        f"multi = \"\"\"\n{many}\n\"\"\"\nraw = '''\n{many}'''\n# {many}\n"
    )
    assert config.providers["a"].extra["literal"] == many


def test_dotted_keys_deeper_than_the_limit_are_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"providers\.a\.b\.b\.b.*nest more than"):
        parse("[providers.a]\n" + ".".join(["b"] * (MAX_DEPTH + 5)) + " = 1\n")


def test_a_multi_line_string_ending_in_quotes_does_not_hide_the_nesting_after_it() -> None:
    deep = "{a = " * 100 + "1" + "}" * 100
    with pytest.raises(ConfigError, match=r"line 3: tables and arrays nest more than"):
        parse(f'[providers.a]\nquoted = """say "hi\\""""\nx = {deep}\n')
