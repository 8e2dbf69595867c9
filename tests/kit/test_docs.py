"""docs/plugin-authors.md: the one-page plugin is complete and passes the conformance suite."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict

from chatplug.testing.conformance import CHECK_NAMES, run_conformance
from kitsource import load_source

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugin-authors.md"
FILE_BLOCK = re.compile(r"<!-- file: (?P<name>[^ ]+) -->\n```[a-z]+\n(?P<code>.*?)\n```", re.S)


def _files() -> Dict[str, str]:
    return {m["name"]: m["code"] + "\n" for m in FILE_BLOCK.finditer(GUIDE.read_text("utf-8"))}


def test_the_guide_shows_every_file_of_the_plugin() -> None:
    assert set(_files()) == {
        "src/chatplug_acme/__init__.py",
        "src/chatplug_acme/emulator.py",
        "pyproject.toml",
        "tests/test_conformance.py",
    }


def test_the_guides_pyproject_registers_provider_and_emulator() -> None:
    project = tomllib.loads(_files()["pyproject.toml"])["project"]
    assert project["entry-points"]["chatplug.providers"] == {"acme": "chatplug_acme"}
    assert project["entry-points"]["chatplug.emulators"] == {
        "acme": "chatplug_acme.emulator:create_app"
    }


def test_the_guides_plugin_passes_the_conformance_suite(tmp_path: Path) -> None:
    files = _files()
    plugin = load_source(files["src/chatplug_acme/__init__.py"], tmp_path, "_guide_acme")
    emulator = load_source(files["src/chatplug_acme/emulator.py"], tmp_path, "_guide_acme_emulator")
    results = run_conformance("acme", plugin=plugin, emulator=emulator.create_app)
    assert {r.name: r.message for r in results if not r.passed} == {}
    assert [r.name for r in results] == list(CHECK_NAMES)


def test_the_guides_conformance_test_is_the_one_liner() -> None:
    code = _files()["tests/test_conformance.py"]
    assert 'test_conformance = conformance_tests("acme")' in code
