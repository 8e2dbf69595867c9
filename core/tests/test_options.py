"""Option checks for plugins: ranges, types, what is passed on, string options."""

from __future__ import annotations

import math
from typing import Any

import pytest
from chatplug import InvalidRequestError
from chatplug.options import STANDARD_RANGES, Range, check_number, checked_options, text_option


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("temperature", 2.5, r"option temperature=2.5 is out of range \[0, 2\]"),
        ("temperature", "hot", "option temperature='hot' must be a number"),
        ("temperature", True, "must be a number"),
        ("temperature", math.nan, "out of range"),
        ("top_p", -0.1, r"out of range \[0, 1\]"),
        ("presence_penalty", 3, r"out of range \[-2, 2\]"),
        ("max_tokens", 1.5, "option max_tokens=1.5 must be an integer"),
        ("max_tokens", 0, "out of range"),
    ],
)
def test_a_wrong_value_is_an_invalid_request_naming_the_option(
    name: str, value: Any, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message) as caught:
        check_number(name, value, STANDARD_RANGES[name], provider="acme")
    assert caught.value.provider == "acme"


def test_a_value_in_range_is_returned() -> None:
    assert check_number("temperature", 0, STANDARD_RANGES["temperature"]) == 0
    assert check_number("n", 3, Range(1, 4, integer=True)) == 3


def test_checked_options_keeps_the_allowed_ones_and_leaves_out_the_others() -> None:
    options = {"temperature": 0.2, "top_p": None, "stream": True, "api_key": "x", "system": "s"}
    assert checked_options(options, STANDARD_RANGES) == {"temperature": 0.2}


def test_checked_options_raises_for_a_wrong_allowed_option() -> None:
    with pytest.raises(InvalidRequestError, match="frequency_penalty"):
        checked_options({"frequency_penalty": 9}, STANDARD_RANGES, provider="acme")


def test_text_option_is_the_string_or_none() -> None:
    assert text_option({"system": "Be brief."}, "system") == "Be brief."
    assert text_option({}, "system") is None


def test_a_text_option_of_another_type_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match="the system option must be a string, not int"):
        text_option({"system": 3}, "system", provider="acme")
