"""Contract 0.2 messages: content parts with images, tool calls, tool results, developer role."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List, Tuple

import pytest
from chatplug import InvalidRequestError
from chatplug.messages import (
    IMAGES,
    NO_NEEDS,
    TOOLS,
    conversation_capabilities,
    format_prompt,
    message_needs,
    normalize_messages,
    text_of,
)
from hypothesis import given
from hypothesis import strategies as st

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
HTTPS = "https://example.com/cat.jpg"


def user(*parts: Dict[str, Any]) -> Dict[str, Any]:
    return {"role": "user", "content": list(parts)}


def text(value: str) -> Dict[str, Any]:
    return {"type": "text", "text": value}


def image(url: Any) -> Dict[str, Any]:
    return {"type": "image_url", "image_url": url}


def call(ident: str = "call_1", name: str = "weather", arguments: str = '{"city": "Paris"}'):
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}


def asks_tool(*calls: Dict[str, Any], content: Any = None) -> Dict[str, Any]:
    return {"role": "assistant", "content": content, "tool_calls": list(calls)}


def answer(ident: str = "call_1", content: Any = "18 °C") -> Dict[str, Any]:
    return {"role": "tool", "tool_call_id": ident, "content": content}


QUESTION = {"role": "user", "content": "Weather in Paris?"}
TOOL_TURN = [QUESTION, asks_tool(call()), answer()]


def refused(messages: Any, complaint: str) -> None:
    with pytest.raises(InvalidRequestError, match=complaint):
        normalize_messages(messages)


# the 0.1 shapes are unchanged -------------------------------------------------


def test_a_plain_string_is_exactly_the_0_1_user_message() -> None:
    (message,) = normalize_messages("hello")
    assert type(message) is dict and message == {"role": "user", "content": "hello"}


def test_plain_text_messages_stay_role_and_content_string_dicts() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi ✓"}]
    assert normalize_messages(messages) == tuple(messages)


def test_text_only_content_parts_are_still_joined_into_one_string() -> None:
    assert normalize_messages([user(text("a"), text("b"))])[0]["content"] == "ab"


def test_unknown_message_fields_are_dropped() -> None:
    message = {"role": "user", "content": "Hi", "refusal": None, "audio": None}
    assert normalize_messages([message]) == ({"role": "user", "content": "Hi"},)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["system", "user", "assistant"]),
                "content": st.text(st.characters(blacklist_categories=["Cs"])),
            }
        ),
        min_size=1,
    ).filter(lambda messages: any(m["content"].strip() for m in messages))
)
def test_any_plain_text_conversation_normalizes_to_itself(messages: List[Dict[str, str]]) -> None:
    assert conversation_capabilities(messages) == (tuple(messages), NO_NEEDS)


# roles and names ----------------------------------------------------------------


def test_the_developer_role_becomes_system() -> None:
    messages = [{"role": "developer", "content": "Be brief."}, QUESTION]
    assert normalize_messages(messages)[0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize("role", ["user", "assistant"])
def test_a_name_is_kept(role: str) -> None:
    message = {"role": role, "content": "Hi", "name": "ada"}
    assert normalize_messages([message]) == (message,)


def test_a_name_must_be_a_non_empty_string() -> None:
    refused([{"role": "user", "content": "Hi", "name": ""}], r"messages\[0\]\.name must be a non")


def test_an_unknown_role_lists_the_accepted_roles() -> None:
    refused(
        [{"role": "function", "content": "x"}],
        r"messages\[0\] has role 'function'; expected one of: assistant, developer, system, "
        r"tool, user",
    )


@pytest.mark.parametrize("role", [None, 3, [], {}])
def test_a_role_that_is_not_a_string_is_refused(role: Any) -> None:
    refused([{"role": role, "content": "x"}], r"messages\[0\] has role")


# images -------------------------------------------------------------------------


def test_a_message_with_an_image_keeps_normalized_parts() -> None:
    (message,) = normalize_messages([user(text("What is this?"), image({"url": PNG}))])
    assert message["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "auto"}},
    ]


def test_an_image_url_may_be_a_bare_string() -> None:
    (message,) = normalize_messages([user(image(HTTPS))])
    assert message["content"] == [
        {"type": "image_url", "image_url": {"url": HTTPS, "detail": "auto"}}
    ]


def test_the_image_detail_is_kept() -> None:
    (message,) = normalize_messages([user(image({"url": HTTPS, "detail": "low"}))])
    assert message["content"][0]["image_url"]["detail"] == "low"


def test_a_null_image_detail_is_auto() -> None:
    (message,) = normalize_messages([user(image({"url": HTTPS, "detail": None}))])
    assert message["content"][0]["image_url"]["detail"] == "auto"


def test_an_unknown_image_detail_is_refused_naming_the_field() -> None:
    refused(
        [user(text("x"), image({"url": HTTPS, "detail": "max"}))],
        r"messages\[0\]\.content\[1\]\.image_url\.detail must be 'auto', 'low' or 'high'",
    )


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("data:text/plain;base64,aGk=", "holds 'text/plain', not an image"),
        ("data:image/png;base64,not base64!", "does not hold valid base64"),
        ("data:image/png;base64,aGk", "does not hold valid base64"),  # bad length
        ("data:image/png;base64,", "does not hold valid base64"),
        ("data:image/png,rawbytes", "is not base64-encoded"),
        ("data:image/png;base64", "has no ','"),
    ],
)
def test_a_bad_data_url_is_refused_saying_why(url: str, complaint: str) -> None:
    refused(
        [user(image({"url": url}))], r"messages\[0\]\.content\[0\]\.image_url\.url .*" + complaint
    )


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.png", "https://", "cat.png", "http://[::1"]
)
def test_an_image_url_other_than_http_or_data_is_refused(url: str) -> None:
    refused([user(image(url))], r"messages\[0\]\.content\[0\]\.image_url must be an http\(s\) URL")


@given(st.binary(min_size=1, max_size=300), st.sampled_from(["png", "jpeg", "webp", "gif"]))
def test_any_base64_image_data_url_is_accepted(data: bytes, subtype: str) -> None:
    url = f"data:image/{subtype};base64,{base64.b64encode(data).decode()}"
    (message,) = normalize_messages([user(image({"url": url}))])
    assert message["content"][0]["image_url"]["url"] == url


@pytest.mark.parametrize("role", ["system", "assistant"])
def test_images_are_refused_outside_user_messages(role: str) -> None:
    refused(
        [QUESTION, {"role": role, "content": [image(HTTPS)]}],
        r"messages\[1\]\.content\[0\] is an image part; images are accepted in user messages",
    )


def test_an_image_in_a_tool_result_is_refused() -> None:
    refused([*TOOL_TURN[:2], answer(content=[image(HTTPS)])], r"messages\[2\]\.content\[0\]")


@pytest.mark.parametrize("part_type", ["input_audio", "file", "refusal"])
def test_other_part_types_are_refused_naming_message_part_and_type(part_type: str) -> None:
    refused(
        [QUESTION, user(text("x"), {"type": part_type})],
        rf"messages\[1\]\.content\[1\] has type '{part_type}'; chatplug accepts 'text' and "
        r"'image_url' content parts only",
    )


def test_a_part_without_a_type_is_refused() -> None:
    refused([user({"text": "x"})], r"messages\[0\]\.content\[0\] has no 'type'")


def test_a_part_that_is_not_a_dict_is_refused() -> None:
    refused([user(text("x"), "y")], r"messages\[0\]\.content\[1\] must be a content part")  # type: ignore[arg-type]


def test_a_text_part_without_string_text_is_refused() -> None:
    refused([user({"type": "text", "text": 3})], r"messages\[0\]\.content\[0\]\.text must be a")


# tool calls and tool results ----------------------------------------------------------


def test_an_assistant_tool_call_with_null_content_gets_empty_text() -> None:
    assert normalize_messages(TOOL_TURN)[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [call()],
    }


def test_an_assistant_tool_call_keeps_its_text() -> None:
    messages = [QUESTION, asks_tool(call(), content="Let me check."), answer()]
    assert normalize_messages(messages)[1]["content"] == "Let me check."


def test_tool_calls_are_normalized_to_the_function_shape() -> None:
    raw = {"id": "c", "function": {"name": "f", "arguments": "{}", "extra": 1}, "index": 0}
    (_, assistant) = normalize_messages([QUESTION, asks_tool(raw)])
    assert assistant["tool_calls"] == [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]


def test_a_tool_message_keeps_its_call_id_and_content() -> None:
    assert normalize_messages(TOOL_TURN)[2] == answer()


def test_tool_result_text_parts_are_joined() -> None:
    messages = [*TOOL_TURN[:2], answer(content=[text("18"), text(" °C")])]
    assert normalize_messages(messages)[2]["content"] == "18 °C"


def test_parallel_calls_are_each_answered() -> None:
    messages = [QUESTION, asks_tool(call("a"), call("b")), answer("b"), answer("a")]
    assert [m.get("tool_call_id") for m in normalize_messages(messages)] == [None, None, "b", "a"]


def test_the_sdk_dump_of_an_assistant_message_is_accepted() -> None:
    dumped = {
        "role": "assistant",
        "content": "Hello",
        "refusal": None,
        "audio": None,
        "function_call": None,
        "tool_calls": None,
        "annotations": [],
    }
    assert normalize_messages([QUESTION, dumped])[1] == {"role": "assistant", "content": "Hello"}


def test_arguments_that_are_not_a_string_are_refused_naming_the_field() -> None:
    raw = {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}
    refused(
        [QUESTION, asks_tool(raw)],
        r"messages\[1\]\.tool_calls\[0\]\.function\.arguments must be a string \(JSON text\), "
        r"not dict",
    )


@pytest.mark.parametrize(
    ("bad_call", "complaint"),
    [
        ({"type": "function", "function": {"name": "f", "arguments": ""}}, r"\.id must be a non"),
        ({"id": "c", "type": "function", "function": {"arguments": ""}}, r"\.function\.name must"),
        ({"id": "c", "type": "function"}, r"\.function must be a \{'name', 'arguments'\} dict"),
        ({"id": "c", "type": "custom", "custom": {}}, r"\.type is 'custom'; only 'function'"),
        ("call", r" must be a tool call \(a dict\), not str"),
    ],
)
def test_a_malformed_tool_call_is_refused_naming_the_field(bad_call: Any, complaint: str) -> None:
    refused([QUESTION, asks_tool(bad_call)], r"messages\[1\]\.tool_calls\[0\]" + complaint)


def test_tool_calls_must_be_a_list() -> None:
    message = {"role": "assistant", "content": None, "tool_calls": call()}
    refused([QUESTION, message], r"messages\[1\]\.tool_calls must be a list of tool calls, not")


def test_tool_calls_are_refused_on_a_user_message() -> None:
    refused([{**QUESTION, "tool_calls": [call()]}], r"messages\[0\]\.tool_calls is allowed on")


def test_a_deprecated_function_call_is_refused() -> None:
    legacy = {"role": "assistant", "content": None, "function_call": {"name": "f"}}
    refused([QUESTION, legacy], r"messages\[1\]\.function_call is the deprecated form")


def test_null_content_without_tool_calls_is_refused() -> None:
    refused(
        [QUESTION, {"role": "assistant", "content": None, "tool_calls": []}],
        r"messages\[1\]\.content must be a string or a list of content parts, not null",
    )


def test_a_tool_message_answering_an_unknown_call_is_refused() -> None:
    refused(
        [*TOOL_TURN[:2], answer("call_9")],
        r"messages\[2\]\.tool_call_id 'call_9' answers no earlier assistant tool call; "
        r"the earlier calls are 'call_1'",
    )


def test_a_tool_message_before_its_call_is_refused() -> None:
    refused(
        [QUESTION, answer(), asks_tool(call())],
        r"messages\[1\]\.tool_call_id 'call_1' answers no earlier assistant tool call; "
        r"no earlier assistant message has tool_calls",
    )


def test_a_tool_message_needs_a_call_id() -> None:
    refused(
        [*TOOL_TURN[:2], {"role": "tool", "content": "x"}],
        r"messages\[2\]\.tool_call_id must be a non-empty string, not null",
    )


def test_a_lone_surrogate_in_tool_arguments_is_refused_naming_the_field() -> None:
    refused(
        [QUESTION, asks_tool(call(arguments='{"a": "\udcff"}'))],
        r"messages\[1\]\.tool_calls\[0\]\.function\.arguments is not valid Unicode",
    )


# the blank check ----------------------------------------------------------------


def test_a_conversation_ending_in_blank_tool_results_is_not_blank() -> None:
    messages = [{"role": "user", "content": " "}, asks_tool(call()), answer(content="")]
    assert len(normalize_messages(messages)) == 3


def test_a_conversation_ending_in_an_assistant_tool_call_is_not_blank() -> None:
    assert len(normalize_messages([{"role": "user", "content": ""}, asks_tool(call())])) == 2


def test_a_conversation_of_one_image_is_not_blank() -> None:
    assert len(normalize_messages([user(image(HTTPS))])) == 1


# what a conversation needs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "needs"),
    [
        ("hi", NO_NEEDS),
        ([QUESTION], NO_NEEDS),
        ([QUESTION, asks_tool(call())], {TOOLS}),
        (TOOL_TURN, {TOOLS}),
        ([user(text("what?"), image(PNG))], {IMAGES}),
        ([user(image(HTTPS)), asks_tool(call()), answer()], {TOOLS, IMAGES}),
    ],
)
def test_conversation_capabilities_names_what_the_conversation_needs(
    messages: Any, needs: Any
) -> None:
    assert conversation_capabilities(messages).needs == needs


def test_conversation_capabilities_returns_the_normalized_messages() -> None:
    messages = [{"role": "developer", "content": "Be brief."}, *TOOL_TURN]
    assert conversation_capabilities(messages).messages == normalize_messages(messages)


@pytest.mark.parametrize(
    ("messages", "needs"),
    [
        ([QUESTION], NO_NEEDS),
        ([QUESTION, asks_tool(call())], {TOOLS}),
        ([QUESTION, answer()], {TOOLS}),
        ([user(text("what?"), image(PNG))], {IMAGES}),
    ],
)
def test_message_needs_of_messages(messages: List[Dict[str, Any]], needs: Any) -> None:
    assert message_needs(messages) == needs


# text_of ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"role": "user", "content": "Hi"}, "Hi"),
        (user(text("What is "), image(PNG), text("this?")), "What is this?"),
        (asks_tool(call()), ""),
        ({"role": "assistant"}, ""),
    ],
)
def test_text_of_is_the_text_whatever_the_content_shape(message: Any, expected: str) -> None:
    assert text_of(message) == expected


# the default prompt rendering -----------------------------------------------------------


def test_a_data_url_image_renders_as_a_placeholder_without_its_data() -> None:
    prompt = format_prompt(normalize_messages([user(text("What is this?"), image(PNG))]))
    assert prompt == "What is this? [image]"


def test_an_http_image_renders_with_its_url() -> None:
    prompt = format_prompt(normalize_messages([user(image(HTTPS), text("Describe it."))]))
    assert prompt == f"[image: {HTTPS}] Describe it."


def test_tool_calls_and_results_render_with_ids_and_names() -> None:
    messages = [*TOOL_TURN, {"role": "assistant", "content": "18 °C."}, QUESTION]
    assert format_prompt(normalize_messages(messages)) == (
        "User: Weather in Paris?\n"
        'Tool call call_1: weather({"city": "Paris"})\n'
        "Tool result call_1 (weather): 18 °C\n"
        "Assistant: 18 °C.\n"
        "User: Weather in Paris?\n"
        "Assistant:"
    )


def test_an_assistant_text_renders_before_its_tool_calls() -> None:
    messages = [QUESTION, asks_tool(call(), content="Checking.")]
    assert format_prompt(normalize_messages(messages)).splitlines()[1:3] == [
        "Assistant: Checking.",
        'Tool call call_1: weather({"city": "Paris"})',
    ]


def test_a_single_tool_call_message_renders_as_a_conversation() -> None:
    prompt = format_prompt([{"role": "assistant", "content": "", "tool_calls": [call()]}])
    assert prompt == 'Tool call call_1: weather({"city": "Paris"})\nAssistant:'


# robustness -----------------------------------------------------------------------------

LEAF = st.none() | st.booleans() | st.integers() | st.text(max_size=3) | st.just([]) | st.just({})
IDS = st.sampled_from(["a", "b"])
SAY = st.text(max_size=3)
PART = st.builds(text, SAY) | st.builds(image, st.sampled_from([PNG, HTTPS, {"url": HTTPS}]))
VALID_MESSAGE = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "developer", "user", "assistant"]), "content": SAY},
        optional={"name": IDS},
    ),
    st.fixed_dictionaries({"role": st.just("user"), "content": st.lists(PART, min_size=1)}),
    st.builds(asks_tool, st.builds(call, IDS), content=st.none() | SAY),
    st.builds(answer, IDS, SAY),
)
#: where a valid message may be damaged with another JSON value
PATHS = st.sampled_from(
    [
        ("role",),
        ("content",),
        ("name",),
        ("tool_call_id",),
        ("tool_calls",),
        ("content", 0),
        ("content", 0, "image_url"),
        ("tool_calls", 0, "id"),
        ("tool_calls", 0, "type"),
        ("tool_calls", 0, "function", "arguments"),
    ]
)


def damaged(message: Dict[str, Any], path: Tuple[Any, ...], value: Any) -> Dict[str, Any]:
    copy = json.loads(json.dumps(message))
    target = copy
    try:
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    except (LookupError, TypeError):  # no such place in this message: damage the top
        copy[path[0]] = value
    return copy


@given(
    st.lists(VALID_MESSAGE, min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 3), PATHS, LEAF), max_size=1),
)
def test_any_input_is_either_a_valid_conversation_or_an_invalid_request(
    messages: List[Any], damages: List[Tuple[int, Tuple[Any, ...], Any]]
) -> None:
    for index, path, value in damages:
        if index < len(messages):
            messages[index] = damaged(messages[index], path, value)
    try:
        conversation = conversation_capabilities(messages)
    except InvalidRequestError as error:
        assert error.message.startswith(("messages[", "every message is blank"))
    else:
        json.dumps(conversation.messages)  # plain JSON data, ready to send
        assert conversation.needs == message_needs(conversation.messages)
        assert format_prompt(conversation.messages)
