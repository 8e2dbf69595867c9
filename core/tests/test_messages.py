"""Message validation (text that is not valid Unicode included) and prompt rendering."""

from __future__ import annotations

from typing import Any

import pytest
from chatplug import InvalidRequestError, format_prompt, normalize_messages


def test_a_plain_string_is_one_user_message() -> None:
    assert normalize_messages("hi") == ({"role": "user", "content": "hi"},)


def test_text_content_parts_are_joined() -> None:
    message = {
        "role": "user",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
    }
    assert normalize_messages([message])[0]["content"] == "ab"


@pytest.mark.parametrize(
    ("messages", "complaint"),
    [
        ([], "empty"),
        ([{"role": "robot", "content": "x"}], "messages\\[0\\] has role 'robot'"),
        ([{"role": "user", "content": 3}], "messages\\[0\\]\\.content must be a string"),
        ([{"role": "user", "content": "ok"}, "nope"], "messages\\[1\\] must be a dict"),
        ([{"role": "user", "content": "  "}], "blank"),
        ({"role": "user", "content": "x"}, "must be a string or a list"),
        ([{"role": "user", "content": [{"type": "input_audio"}]}], "has type 'input_audio'"),
        (None, "must be a string or a list"),
    ],
)
def test_invalid_messages_raise_a_typed_error_naming_the_problem(
    messages: Any, complaint: str
) -> None:
    with pytest.raises(InvalidRequestError, match=complaint):
        normalize_messages(messages)


def test_a_single_message_renders_as_its_content() -> None:
    assert format_prompt([{"role": "user", "content": "Just this"}]) == "Just this"


def test_a_conversation_renders_roles_and_ends_with_assistant() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "  "},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    assert format_prompt(messages) == (
        "System: Be brief.\nUser: Hi\nAssistant: Hello\nUser: Bye\nAssistant:"
    )


def test_an_empty_conversation_is_an_invalid_request_not_an_index_error() -> None:
    with pytest.raises(InvalidRequestError):
        format_prompt([])


# Text that is not valid Unicode is refused up front.  A file in Latin-1 piped to
# ``chatplug chat``, or a non-UTF-8 command-line argument, reaches the client as a string
# with lone surrogates (Python's ``surrogateescape``); it cannot be encoded as UTF-8, so it
# used to fail later as a plugin bug (``PluginError`` wrapping ``UnicodeEncodeError``) or
# as an upstream HTTP 500, after retries.


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
