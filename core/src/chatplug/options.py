"""Checking the caller's options in a plugin, before any network traffic.

A plugin passes on only the options its upstream understands, each checked against the
range the upstream accepts; a wrong one raises :class:`~chatplug.InvalidRequestError`
naming the option, so that nothing is sent::

    from chatplug.options import STANDARD_RANGES, checked_options, text_option

    body.update(checked_options(request.options, STANDARD_RANGES, provider=request.provider))
    system = text_option(request.options, "system", provider=request.provider)

:data:`STANDARD_RANGES` holds OpenAI's documented ranges of the standard sampling
options; pick from it or write your own :class:`Range` for what your upstream accepts.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Mapping, NamedTuple, Optional, Union

from .errors import InvalidRequestError

__all__ = ["STANDARD_RANGES", "Range", "check_number", "checked_options", "text_option"]

logger = logging.getLogger("chatplug.options")

Number = Union[int, float]


class Range(NamedTuple):
    """The values an option may take: ``low <= value <= high``, an integer if ``integer``."""

    low: Number
    high: Number
    integer: bool = False


#: OpenAI's ranges of the standard sampling options (``max_tokens`` bounded at 2**20)
STANDARD_RANGES: Mapping[str, Range] = {
    "temperature": Range(0.0, 2.0),
    "top_p": Range(0.0, 1.0),
    "presence_penalty": Range(-2.0, 2.0),
    "frequency_penalty": Range(-2.0, 2.0),
    "max_tokens": Range(1, 1 << 20, integer=True),
}


def check_number(
    name: str, value: Any, allowed: Range, *, provider: Optional[str] = None
) -> Number:
    """``value`` when it is a number (an integer if required) within ``allowed``.

    Raises :class:`~chatplug.InvalidRequestError` otherwise, e.g. ``option
    temperature=5 is out of range [0, 2]`` (booleans and NaN are never numbers).
    """
    kind = int if allowed.integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if allowed.integer else "a number"
        raise InvalidRequestError(f"option {name}={value!r} must be {expected}", provider=provider)
    if not allowed.low <= value <= allowed.high:  # also NaN
        raise InvalidRequestError(
            f"option {name}={value!r} is out of range [{allowed.low:g}, {allowed.high:g}]",
            provider=provider,
        )
    return value


def checked_options(
    options: Mapping[str, Any],
    allowed: Mapping[str, Range],
    *,
    provider: Optional[str] = None,
    ignore: "tuple[str, ...]" = ("system",),
) -> Dict[str, Number]:
    """The options named in ``allowed``, each checked with :func:`check_number`.

    Every other option is left out (never leaked upstream) and logged at debug level,
    except those in ``ignore`` (handled by the plugin itself, ``system`` by default).
    ``None`` values count as not given.
    """
    checked: Dict[str, Number] = {}
    for name, value in options.items():
        bounds = allowed.get(name)
        if bounds is not None:
            if value is not None:
                checked[name] = check_number(name, value, bounds, provider=provider)
        elif name not in ignore:
            logger.debug("%s: option %r is not understood upstream; not sent", provider, name)
    return checked


def text_option(
    options: Mapping[str, Any], name: str, *, provider: Optional[str] = None
) -> Optional[str]:
    """The option ``name`` when it is a string, ``None`` when absent; else an
    :class:`~chatplug.InvalidRequestError` (``the system option must be a string, not int``)."""
    value = options.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequestError(
            f"the {name} option must be a string, not {type(value).__name__}", provider=provider
        )
    return value
