"""Found in user-acceptance review: text that is not valid Unicode is refused up front.

A file in Latin-1 piped to ``chatplug chat``, or a non-UTF-8 command-line argument, reaches
the client as a string with lone surrogates (Python's ``surrogateescape``).  It cannot be
encoded as UTF-8, so it used to fail later as a plugin bug (``PluginError`` wrapping
``UnicodeEncodeError``) or as an upstream HTTP 500, after retries.
"""

from __future__ import annotations

import pytest
from chatplug import InvalidRequestError
from chatplug.messages import normalize_messages


def test_a_lone_surrogate_in_content_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[1\].*not valid Unicode.*position 3"):
        normalize_messages(
            [{"role": "system", "content": "ok"}, {"role": "user", "content": "caf\udce9 au lait"}]
        )


def test_a_lone_surrogate_in_a_plain_string_is_an_invalid_request_with_a_hint() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        normalize_messages("\ud83d")
    assert caught.value.hint is not None and "UTF-8" in caught.value.hint


def test_a_lone_surrogate_in_a_text_part_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match="not valid Unicode"):
        normalize_messages([{"role": "user", "content": [{"type": "text", "text": "x\udcff"}]}])


def test_non_ascii_text_and_astral_characters_stay_valid() -> None:
    text = "Héllo — 日本語 🚀 \x00"
    assert normalize_messages(text) == ({"role": "user", "content": text},)
