"""What ``chatplug --version`` and ``chatplug plugins`` read from installed metadata
(:mod:`chatplug.cli.inventory`, :func:`chatplug.discovery.distribution_of`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chatplug.cli.inventory import version_text
from chatplug.discovery import ENTRY_POINT_GROUP, distribution_of, entry_points
from chatplug.hookspecs import CONTRACT_VERSION
from chatplug.testing import write_distribution

README = "# chatplug-described\n\nName: not-this-one\nVersion: 9.9\n\nA long description.\n"


@pytest.fixture
def described(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed plugin whose METADATA carries a README that looks like headers."""
    info = write_distribution(
        tmp_path, "chatplug-described", {ENTRY_POINT_GROUP: {"described": "x"}}, version="3.2.1"
    )
    metadata = info / "METADATA"
    metadata.write_text(metadata.read_text(encoding="utf-8") + "\n" + README, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return info


def test_distribution_of_reads_the_metadata_headers_not_the_description(described: Path) -> None:
    (entry,) = [e for e in entry_points(ENTRY_POINT_GROUP) if e.name == "described"]
    assert distribution_of(entry) == ("chatplug-described", "3.2.1")


def test_distribution_of_agrees_with_importlib_metadata(described: Path) -> None:
    for entry in entry_points(ENTRY_POINT_GROUP):
        assert distribution_of(entry) == (entry.dist.metadata["Name"], entry.dist.version)


def test_version_lists_each_discovered_provider_under_its_distribution(described: Path) -> None:
    lines = version_text().splitlines()
    assert "  chatplug-described 3.2.1 (providers: described)" in lines
    for entry in entry_points(ENTRY_POINT_GROUP):
        name, version = distribution_of(entry)
        line = next(line for line in lines if line.startswith(f"  {name} "))
        assert line.startswith(f"  {name} {version} (providers: ") and entry.name in line


def test_version_names_the_contract_the_hook_specifications_declare() -> None:
    # the inventory keeps its own copy of the contract version (no pluggy import)
    assert f"(plugin contract {CONTRACT_VERSION};" in version_text().splitlines()[0]
