"""docs/server.md's *Limits and timeouts* table says what the code does: each documented
default is the default, and each documented variable sets its limit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pytest
from chatplug import Registry
from chatplug.server import ServerSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "server.md"

ATTRIBUTES = {
    "CHATPLUG_SERVER_KEEPALIVE": "keepalive",
    "CHATPLUG_SERVER_HEAD_TIMEOUT": "head_timeout",
    "CHATPLUG_SERVER_BODY_TIMEOUT": "body_timeout",
    "CHATPLUG_SERVER_WRITE_TIMEOUT": "write_timeout",
    "CHATPLUG_SERVER_MAX_BODY": "max_body",
    "CHATPLUG_SERVER_GRACE": "grace",
    "CHATPLUG_SERVER_BLOCK_WARNING": "block_warning",
}


def limits_table() -> List[List[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Limits and timeouts", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # no header
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def documented_defaults() -> Dict[str, float]:
    defaults = {}
    for _, variables, default, _ in limits_table():
        value, unit = default.split()
        number = float(value) * (1024 * 1024 if unit == "MiB" else 1)
        for variable in re.findall(r"`(CHATPLUG_[A-Z_]+)`", variables):
            defaults[variable] = number
    return defaults


def test_the_table_lists_every_limit() -> None:
    assert set(documented_defaults()) == {*ATTRIBUTES, "CHATPLUG_LIST_MODELS_TIMEOUT"}


@pytest.mark.parametrize("variable", sorted(ATTRIBUTES))
def test_a_documented_default_is_the_servers_default(variable: str) -> None:
    settings = ServerSettings.from_env({})
    assert getattr(settings, ATTRIBUTES[variable]) == documented_defaults()[variable]


@pytest.mark.parametrize("variable", sorted(ATTRIBUTES))
def test_a_documented_variable_sets_its_limit(variable: str) -> None:
    settings = ServerSettings.from_env({variable: "7"})
    assert getattr(settings, ATTRIBUTES[variable]) == 7


def test_the_documented_list_models_default_is_the_registrys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHATPLUG_LIST_MODELS_TIMEOUT", raising=False)
    expected = documented_defaults()["CHATPLUG_LIST_MODELS_TIMEOUT"]
    assert Registry(discover=False).list_models_timeout == expected
