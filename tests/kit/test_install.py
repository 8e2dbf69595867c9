"""write_distribution: a plugin installed for a test is discovered like a pip-installed one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from chatplug.registry import EMULATOR_GROUP, entry_points
from chatplug.testing import make_registry, write_distribution

PLUGIN = """
from chatplug import ModelInfo, hookimpl

@hookimpl
def list_models():
    return [ModelInfo("tiny", "kit-installed", default=True)]

@hookimpl
async def stream_completion(request, session):
    yield "hi"

def create_app():
    raise NotImplementedError
"""
ENTRY_POINTS = {
    "chatplug.providers": {"kit-installed": "chatplug_kit_installed"},
    "chatplug.emulators": {"kit-installed": "chatplug_kit_installed:create_app"},
}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "chatplug_kit_installed", raising=False)
    return site


def test_the_written_provider_is_discovered_through_its_entry_point(site: Path) -> None:
    modules = {"chatplug_kit_installed": PLUGIN}
    write_distribution(site, "chatplug-kit-installed", ENTRY_POINTS, modules=modules)
    provider = make_registry("kit-installed").provider("kit-installed")
    assert [model.id for model in provider.models()] == ["tiny"]
    assert "kit-installed" in [entry.name for entry in entry_points(EMULATOR_GROUP)]


def test_the_metadata_names_the_distribution_and_its_version(site: Path) -> None:
    info = write_distribution(site, "chatplug-kit-installed", ENTRY_POINTS, version="2.5")
    assert info.name == "chatplug_kit_installed-2.5.dist-info"
    code = (
        "from importlib.metadata import distribution\n"
        "print(distribution('chatplug-kit-installed').version)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site)},
        timeout=60,
    )
    assert done.stdout.strip() == "2.5", done.stderr
