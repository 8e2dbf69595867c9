"""``chatplug new-plugin``: names, refusals, and the generated files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from chatplug.scaffold import generate, new_plugin_command, plugin_names
from click.testing import CliRunner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.mark.parametrize(
    ("typed", "provider", "module", "dist"),
    [
        ("acme", "acme", "chatplug_acme", "chatplug-acme"),
        ("My-Provider", "my-provider", "chatplug_my_provider", "chatplug-my-provider"),
        ("ACME_2", "acme-2", "chatplug_acme_2", "chatplug-acme-2"),
        ("chatplug-acme", "acme", "chatplug_acme", "chatplug-acme"),
        (
            "  Open  Router.ai ",
            "open-router-ai",
            "chatplug_open_router_ai",
            "chatplug-open-router-ai",
        ),
        ("3d--chat__", "3d-chat", "chatplug_3d_chat", "chatplug-3d-chat"),
    ],
)
def test_names_are_derived_from_anything_a_user_types(
    typed: str, provider: str, module: str, dist: str
) -> None:
    names = plugin_names(typed)
    assert (names.provider, names.module, names.dist) == (provider, module, dist)
    assert names.module.isidentifier()


@pytest.mark.parametrize(
    ("typed", "complaint"),
    [
        ("", "empty"),
        ("---", "no letters or digits"),
        ("héllo", "'é'"),
        ("a/b", "'/'"),
        ("chatplug", "core's own name"),
        ("x" * 41, "too long"),
    ],
)
def test_a_bad_name_gets_a_clear_error_and_writes_nothing(
    tmp_path: Path, typed: str, complaint: str
) -> None:
    target = tmp_path / "out"
    result = CliRunner().invoke(new_plugin_command, ["--dir", str(target), "--", typed])
    assert result.exit_code == 2
    assert "Invalid value for" in result.output
    assert "NAME" in result.output
    assert complaint in result.output
    assert not target.exists()


def test_an_existing_directory_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "chatplug-acme"
    target.mkdir()
    (target / "pyproject.toml").write_text("mine")
    result = CliRunner().invoke(new_plugin_command, ["acme", "--dir", str(target)])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert (target / "pyproject.toml").read_text() == "mine"
    assert sorted(p.name for p in target.iterdir()) == ["pyproject.toml"]


def test_an_existing_file_as_directory_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("a file")
    result = CliRunner().invoke(new_plugin_command, ["acme", "--dir", str(target)])
    assert result.exit_code != 0
    assert target.read_text() == "a file"


def test_an_empty_directory_is_filled(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    result = CliRunner().invoke(new_plugin_command, ["acme", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "pyproject.toml").exists()


def test_the_default_directory_is_named_after_the_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(new_plugin_command, ["Acme"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "chatplug-acme" / "src" / "chatplug_acme" / "__init__.py").exists()
    assert "chatplug-acme" in result.output


def test_the_package_has_every_part(tmp_path: Path) -> None:
    root = generate("My-Acme", tmp_path / "pkg")
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "noxfile.py",
        "pyproject.toml",
        "src/chatplug_my_acme/__init__.py",
        "src/chatplug_my_acme/emulator.py",
        "src/chatplug_my_acme/py.typed",
        "tests/test_conformance.py",
        "tests/test_plugin.py",
    ]


def test_no_placeholder_is_left_and_the_python_compiles(tmp_path: Path) -> None:
    root = generate("My-Acme", tmp_path / "pkg")
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "{{" not in text, path
            if path.suffix == ".py":
                compile(text, str(path), "exec")


def test_pyproject_declares_the_provider_and_emulator_entry_points(tmp_path: Path) -> None:
    root = generate("My-Acme", tmp_path / "pkg")
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "chatplug-my-acme"
    entry_points = project["entry-points"]
    assert entry_points["chatplug.providers"] == {"my-acme": "chatplug_my_acme"}
    assert entry_points["chatplug.emulators"] == {"my-acme": "chatplug_my_acme.emulator:create_app"}
    assert any(dep.startswith("chatplug>=") for dep in project["dependencies"])


def test_the_conformance_test_is_one_line(tmp_path: Path) -> None:
    root = generate("acme", tmp_path / "pkg")
    text = (root / "tests" / "test_conformance.py").read_text()
    assert 'test_conformance = conformance_tests("acme")' in text
