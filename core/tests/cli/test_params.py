"""The commands' shared parameter types (:mod:`chatplug.cli.params`)."""

from __future__ import annotations

import click
import pytest
from chatplug.cli.params import Seconds


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf", "", "soon", True])
def test_seconds_refuses_what_is_not_a_positive_finite_number(value: object) -> None:
    with pytest.raises(click.BadParameter):
        Seconds().convert(value, None, None)


@pytest.mark.parametrize(("value", "seconds"), [("2.5", 2.5), (" 3 ", 3.0), (7, 7.0)])
def test_seconds_accepts_positive_numbers(value: object, seconds: float) -> None:
    assert Seconds().convert(value, None, None) == seconds


def test_seconds_may_accept_zero() -> None:
    assert Seconds(zero=True).convert("0", None, None) == 0.0
    with pytest.raises(click.BadParameter):
        Seconds(zero=True).convert("-0.5", None, None)
