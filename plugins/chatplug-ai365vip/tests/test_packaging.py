"""The distribution's metadata: the contract dependency and the entry points."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Dict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the core depends on tomli there
    import tomli as tomllib

PROVIDER = "ai365vip"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def project() -> Dict[str, Any]:
    with PYPROJECT.open("rb") as file:
        return tomllib.load(file)["project"]  # type: ignore[no-any-return]


def test_depends_on_the_plugin_contract_up_to_the_next_major_version() -> None:
    # docs/plugin-authors.md, "Versioning of the contract": chatplug>=<tested minor>,<<next major>
    (core,) = [d for d in project()["dependencies"] if re.match(r"chatplug\s*[<>=!~]", d)]
    assert re.sub(r"\s", "", core) == "chatplug>=0.1,<1"


def test_registers_the_provider_and_its_emulator_under_the_provider_id() -> None:
    entry_points = project()["entry-points"]
    module = "chatplug_" + PROVIDER
    assert entry_points["chatplug.providers"] == {PROVIDER: module}
    assert entry_points["chatplug.emulators"] == {PROVIDER: module + ".emulator:create_app"}
