"""``chatplug.testing.distribution_problems``: what a plugin's packaging gets wrong."""

from __future__ import annotations

from chatplug.testing import distribution_problems
from chatplug.testing.helpers import requirement_problems


def test_a_bounded_contract_requirement_is_fine() -> None:
    assert requirement_problems(["aiohttp>=3.9", "chatplug<1,>=0.1"]) == []


def test_a_requirement_without_upper_bound_is_reported() -> None:
    [problem] = requirement_problems(["chatplug>=0.1"])
    assert "no upper bound" in problem and "'<1'" in problem


def test_a_requirement_without_lower_bound_is_reported() -> None:
    [problem] = requirement_problems(["chatplug<1"])
    assert "no lower bound" in problem


def test_a_missing_contract_dependency_is_reported() -> None:
    [problem] = requirement_problems(["aiohttp>=3.9", "chatplug-other>=1"])
    assert "does not depend on 'chatplug'" in problem


def test_an_unknown_provider_is_reported() -> None:
    [problem] = distribution_problems("no-such-provider")
    assert "no installed distribution registers" in problem
