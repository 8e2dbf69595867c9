"""The installed distribution: the contract dependency and the entry points."""

from __future__ import annotations

from chatplug.testing import distribution_problems


def test_the_distribution_pins_the_contract_and_registers_provider_and_emulator() -> None:
    assert distribution_problems("gemini") == []
