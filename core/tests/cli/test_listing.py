"""``chatplug --version``'s reading of installed metadata (:mod:`chatplug.cli.listing`)."""

from __future__ import annotations

from chatplug.cli import listing
from chatplug.registry import ENTRY_POINT_GROUP, entry_points


def test_version_reads_the_registrys_entry_point_group() -> None:
    assert listing.PROVIDERS_GROUP == ENTRY_POINT_GROUP


def test_version_lists_the_providers_the_registry_discovers() -> None:
    found = [(entry.name, entry.value) for entry in listing._provider_entry_points()]
    assert found == [(entry.name, entry.value) for entry in entry_points(ENTRY_POINT_GROUP)]
