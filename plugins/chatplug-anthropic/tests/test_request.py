"""The request mapping: OpenAI-style messages and typed fields → a Messages API body."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from chatplug import InvalidRequestError
from chatplug.types import Tool
from chatplug_anthropic import build_payload

from .conftest import make_request

WEATHER = Tool("weather", "The weather in a city", {"type": "object", "properties": {}})
CLOCK = Tool("clock")


def payload(messages: Optional[List[Dict[str, Any]]] = None, **fields: Any) -> Dict[str, Any]:
    return build_payload(make_request(None, messages, **fields))


def test_the_body_streams_the_model_with_the_conversation() -> None:
    body = payload()
    assert body["stream"] is True
    assert body["model"] == "claude-sonnet-4-5-20250929"
    assert body["messages"] == [{"role": "user", "content": "Hi ✓"}]


def test_system_messages_go_to_the_top_level_system() -> None:
    body = payload(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "system", "content": "Answer in French."},
        ]
    )
    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_the_system_option_comes_before_system_messages() -> None:
    body = payload(
        [{"role": "system", "content": "B"}, {"role": "user", "content": "x"}],
        options={"system": "A"},
    )
    assert body["system"] == "A\n\nB"


def test_consecutive_turns_of_one_role_are_merged() -> None:
    body = payload(
        [
            {"role": "user", "content": "one"},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": "three"},
        ]
    )
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {"role": "assistant", "content": "three"},
    ]


def test_empty_text_is_left_out() -> None:
    body = payload([{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}])
    assert body["messages"] == [{"role": "user", "content": "x"}]


def test_a_data_url_image_becomes_a_base64_image_block() -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    body = payload([{"role": "user", "content": [{"type": "text", "text": "What?"}, part]}])
    assert body["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }


def test_an_https_image_becomes_a_url_image_block() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg"}}
    body = payload([{"role": "user", "content": [part]}])
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://example.org/cat.jpg"}}
    ]


@pytest.mark.parametrize("url", ["data:image/png,notbase64", "ftp://x/y.png", "file:///a.png"])
def test_an_image_anthropic_cannot_fetch_is_refused(url: str) -> None:
    part = {"type": "image_url", "image_url": {"url": url}}
    with pytest.raises(InvalidRequestError, match="image"):
        payload([{"role": "user", "content": [part]}])


def test_assistant_tool_calls_become_tool_use_blocks_with_parsed_input() -> None:
    call = {
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Köln"}'},
    }
    body = payload(
        [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "Sunny ✓"},
        ],
        tools=(WEATHER,),
    )
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Köln"}}
        ],
    }
    assert body["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny ✓"}],
    }


def test_results_of_parallel_calls_go_back_in_one_user_turn() -> None:
    calls = [
        {"id": f"toolu_{n}", "type": "function", "function": {"name": "clock", "arguments": ""}}
        for n in (1, 2)
    ]
    body = payload(
        [
            {"role": "user", "content": "Time?"},
            {"role": "assistant", "content": "Let me check.", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "10:00"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "11:00"},
            {"role": "user", "content": "Thanks"},
        ],
        tools=(CLOCK,),
    )
    assistant, results = body["messages"][1], body["messages"][2]
    assert [b["type"] for b in assistant["content"]] == ["text", "tool_use", "tool_use"]
    assert assistant["content"][1]["input"] == {}
    assert [b.get("tool_use_id") or b["type"] for b in results["content"]] == [
        "toolu_1",
        "toolu_2",
        "text",
    ]
    assert len(body["messages"]) == 3


def test_tool_call_arguments_that_are_not_json_are_refused() -> None:
    call = {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        payload([{"role": "assistant", "content": None, "tool_calls": [call]}])


def test_tools_get_name_description_and_input_schema() -> None:
    body = payload(tools=(WEATHER, CLOCK))
    assert body["tools"] == [
        {
            "name": "weather",
            "description": "The weather in a city",
            "input_schema": {"type": "object", "properties": {}},
        },
        {"name": "clock", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("clock", {"type": "tool", "name": "clock"}),
    ],
)
def test_tool_choice_maps_to_anthropic_tool_choice(choice: str, expected: Dict[str, Any]) -> None:
    assert payload(tools=(WEATHER, CLOCK), tool_choice=choice)["tool_choice"] == expected


def test_parallel_tool_calls_false_disables_parallel_tool_use() -> None:
    body = payload(tools=(WEATHER,), parallel_tool_calls=False)
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_max_tokens_defaults_to_4096() -> None:
    assert payload()["max_tokens"] == 4096


def test_max_tokens_default_comes_from_the_caller_field_or_option() -> None:
    assert payload(max_tokens=50)["max_tokens"] == 50
    assert payload(options={"max_tokens": 60})["max_tokens"] == 60
    assert payload(options={"max_completion_tokens": 70})["max_tokens"] == 70


def test_stop_becomes_stop_sequences() -> None:
    assert payload(stop=("\n\n", "END"))["stop_sequences"] == ["\n\n", "END"]
    assert payload(options={"stop": "END"})["stop_sequences"] == ["END"]


def test_sampling_parameters_pass_and_unknown_options_do_not() -> None:
    body = payload(
        temperature=0.3,
        top_p=0.9,
        seed=7,
        presence_penalty=0.5,
        options={"top_k": 40, "api_key": "sneaky", "stream": False},
    )
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.3, 0.9, 40)
    assert not {"seed", "presence_penalty", "api_key"} & set(body)
    assert body["stream"] is True


def test_user_becomes_metadata_user_id() -> None:
    assert payload(user="u-1")["metadata"] == {"user_id": "u-1"}


@pytest.mark.parametrize(
    ("effort", "budget"), [("minimal", 1024), ("low", 2048), ("medium", 8192), ("high", 16384)]
)
def test_reasoning_effort_enables_thinking_with_a_budget(effort: str, budget: int) -> None:
    body = payload(reasoning_effort=effort)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == budget + 4096


def test_reasoning_effort_none_sends_no_thinking() -> None:
    assert "thinking" not in payload(reasoning_effort="none")


def test_the_thinking_budget_stays_below_a_given_max_tokens() -> None:
    body = payload(reasoning_effort="high", max_tokens=3000)
    assert body["thinking"]["budget_tokens"] == 2999 and body["max_tokens"] == 3000


def test_max_tokens_too_small_for_thinking_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="thinking"):
        payload(reasoning_effort="low", max_tokens=1000)


def test_an_unknown_reasoning_effort_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="reasoning_effort"):
        payload(reasoning_effort="extreme")


def test_the_thinking_budget_option_sets_the_budget() -> None:
    assert payload(options={"thinking_budget": 5000})["thinking"]["budget_tokens"] == 5000


def test_the_default_max_tokens_never_exceeds_the_model_output_limit() -> None:
    request = make_request(None, model="claude-3-haiku-20240307")
    assert (
        build_payload(request, max_output_tokens=4096, default_max_tokens=8000)["max_tokens"]
        == 4096
    )


def test_assistant_reasoning_goes_back_as_thinking_blocks_first() -> None:
    reasoning = [
        {"text": "Hmm ✓", "metadata": {"signature": "c2ln"}},
        {"text": "", "redacted": True, "metadata": {"data": "ZW5j"}},
        {"text": "unsigned thoughts"},
    ]
    body = payload(
        [
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A", "reasoning": reasoning},
            {"role": "user", "content": "Q2"},
        ]
    )
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Hmm ✓", "signature": "c2ln"},
        {"type": "redacted_thinking", "data": "ZW5j"},
        {"type": "text", "text": "A"},
    ]


def test_native_thinking_blocks_in_reasoning_are_sent_as_they_are() -> None:
    native = {"type": "thinking", "thinking": "x", "signature": "s"}
    body = payload(
        [
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A", "reasoning": [native]},
        ]
    )
    assert body["messages"][1]["content"][0] == native


def test_prompt_cache_marks_the_system_prompt_and_the_last_tool() -> None:
    body = payload(
        [{"role": "system", "content": "Long rules"}, {"role": "user", "content": "x"}],
        tools=(WEATHER, CLOCK),
        options={"prompt_cache": True},
    )
    assert body["system"] == [
        {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["tools"][0]
