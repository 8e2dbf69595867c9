"""The public value types: a timeout that is not a positive number is refused.

``chatplug chat --timeout -1`` (or ``client.stream(..., timeout=-1)``) used to send the
request and then fail with "first_byte timeout after -1s"; zero or NaN were just as silent.
"""

from __future__ import annotations

import math

import pytest
from chatplug import InvalidRequestError, Timeout


@pytest.mark.parametrize("seconds", [-1, 0, 0.0, math.nan, -math.inf])
def test_a_number_that_is_not_positive_is_an_invalid_request(seconds: float) -> None:
    with pytest.raises(InvalidRequestError, match="timeout"):
        Timeout.coerce(seconds)


@pytest.mark.parametrize("phase", ["connect", "first_byte", "idle", "total"])
def test_each_phase_is_checked_by_name(phase: str) -> None:
    with pytest.raises(InvalidRequestError, match=phase):
        Timeout(**{phase: -5})


@pytest.mark.parametrize("value", ["10", True])
def test_a_value_that_is_not_a_number_is_an_invalid_request(value: object) -> None:
    with pytest.raises(InvalidRequestError, match="connect"):
        Timeout(connect=value)  # type: ignore[arg-type]


def test_positive_numbers_and_none_stay_valid() -> None:
    assert Timeout(connect=0.001, first_byte=None, idle=3, total=math.inf).idle == 3
    assert Timeout.coerce(2.5) == Timeout(connect=2.5, first_byte=2.5, idle=2.5, total=None)
    assert Timeout.coerce(None) == Timeout()
