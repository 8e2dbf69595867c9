"""The request body: contents and turns, system instruction, images, tools, generationConfig."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from chatplug import InvalidRequestError
from chatplug.types import ResponseFormat, Tool
from chatplug_gemini import build_body

from .conftest import make_request

PNG = "iVBORw0KGgo="
CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Zürich"}'},
        },
        {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ],
}
WEATHER = Tool(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}},
)


def body(**fields: Any) -> Dict[str, Any]:
    return build_body(make_request(None, **fields))


def test_user_and_assistant_turns_become_user_and_model_contents() -> None:
    messages = [
        {"role": "user", "content": "Bonjour ✓"},
        {"role": "assistant", "content": "Salut"},
        {"role": "user", "content": "Ça va ?"},
    ]
    assert body(messages=messages)["contents"] == [
        {"role": "user", "parts": [{"text": "Bonjour ✓"}]},
        {"role": "model", "parts": [{"text": "Salut"}]},
        {"role": "user", "parts": [{"text": "Ça va ?"}]},
    ]


def test_consecutive_turns_of_one_role_are_merged() -> None:
    messages = [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]
    assert body(messages=messages)["contents"] == [
        {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]}
    ]


def test_system_messages_and_the_system_option_go_to_the_system_instruction() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "system", "content": "In French."},
    ]
    sent = body(messages=messages, options={"system": "You are terse."})
    assert sent["systemInstruction"] == {
        "parts": [{"text": "You are terse."}, {"text": "Be brief."}, {"text": "In French."}]
    }
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_no_system_instruction_without_system_text() -> None:
    assert "systemInstruction" not in body()


def test_blank_messages_add_no_empty_text_part() -> None:
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]
    assert body(messages=messages)["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_a_conversation_of_system_text_only_is_refused_before_sending() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": ""}]
    with pytest.raises(InvalidRequestError, match="needs a user message"):
        body(messages=messages)


def test_data_url_images_are_inline_data_and_https_images_file_data() -> None:
    content = [
        {"type": "text", "text": "Compare"},
        {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "auto"},
        },
        {
            "type": "image_url",
            "image_url": {"url": "https://example.org/cat.webp?x=1", "detail": "low"},
        },
        {"type": "image_url", "image_url": {"url": "https://example.org/photo", "detail": "auto"}},
    ]
    assert body(messages=[{"role": "user", "content": content}])["contents"][0]["parts"] == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.org/cat.webp?x=1"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.org/photo"}},
    ]


def test_assistant_tool_calls_are_function_call_parts_with_parsed_args() -> None:
    messages = [{"role": "user", "content": "Weather?"}, CALL]
    assert body(messages=messages)["contents"][1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Zürich"}}},
            {"functionCall": {"name": "get_time", "args": {}}},
        ],
    }


def test_tool_results_are_one_user_turn_of_function_responses_named_after_their_calls() -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        CALL,
        {"role": "tool", "tool_call_id": "c2", "content": "12:00"},
        {"role": "tool", "tool_call_id": "c1", "content": '{"celsius": 21}'},
    ]
    assert body(messages=messages)["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_time", "response": {"result": "12:00"}}},
            {"functionResponse": {"name": "get_weather", "response": {"celsius": 21}}},
        ],
    }


def test_a_reused_call_id_names_the_latest_call() -> None:
    first = {**CALL, "tool_calls": [CALL["tool_calls"][0]]}
    second = {**CALL, "tool_calls": [{**CALL["tool_calls"][1], "id": "c1"}]}
    messages = [
        {"role": "user", "content": "a"},
        first,
        {"role": "tool", "tool_call_id": "c1", "content": "x"},
        second,
        {"role": "tool", "tool_call_id": "c1", "content": "y"},
    ]
    last = body(messages=messages)["contents"][-1]["parts"][0]
    assert last["functionResponse"]["name"] == "get_time"


def test_tool_call_arguments_that_are_not_a_json_object_are_refused() -> None:
    bad = {
        **CALL,
        "tool_calls": [{**CALL["tool_calls"][0], "function": {"name": "f", "arguments": "[1]"}}],
    }
    with pytest.raises(InvalidRequestError, match=r"messages\[1\]\.tool_calls\[0\]"):
        body(messages=[{"role": "user", "content": "a"}, bad])


def test_tools_are_function_declarations_with_their_json_schema() -> None:
    sent = body(tools=(WEATHER, Tool("ping")))
    assert sent["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "The weather in a city",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                    },
                },
                {"name": "ping"},
            ]
        }
    ]
    assert "toolConfig" not in sent


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ("get_weather", {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    ],
)
def test_tool_choice_is_the_function_calling_mode(choice: str, config: Dict[str, Any]) -> None:
    sent = body(tools=(WEATHER,), tool_choice=choice)
    assert sent["toolConfig"] == {"functionCallingConfig": config}


def test_sampling_fields_go_to_generation_config() -> None:
    sent = body(
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        stop=("\n\n", "END"),
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.25,
    )
    assert sent["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.25,
        "maxOutputTokens": 50,
        "seed": 7,
        "stopSequences": ["\n\n", "END"],
    }


def test_sampling_options_are_used_when_the_typed_fields_are_unset() -> None:
    options = {"temperature": 1, "max_completion_tokens": 9, "stop": "END", "seed": 3, "user": "u"}
    assert body(options=options)["generationConfig"] == {
        "temperature": 1,
        "maxOutputTokens": 9,
        "seed": 3,
        "stopSequences": ["END"],
    }


@pytest.mark.parametrize(
    "options",
    [{"temperature": "hot"}, {"max_tokens": -1}, {"max_tokens": True}, {"stop": [1]}],
)
def test_malformed_sampling_options_are_refused(options: Dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        body(options=options)


def test_no_generation_config_when_nothing_is_asked() -> None:
    assert "generationConfig" not in body(options={"user": "u", "unknown": 1})


def test_json_object_is_the_json_mime_type() -> None:
    config = body(response_format=ResponseFormat("json_object"))["generationConfig"]
    assert config == {"responseMimeType": "application/json"}


def test_json_schema_is_the_response_json_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "additionalProperties": False,
    }
    config = body(response_format=ResponseFormat("json_schema", "n", schema, True))[
        "generationConfig"
    ]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}


@pytest.mark.parametrize(
    ("effort", "thinking"),
    [
        ("none", {"includeThoughts": False, "thinkingBudget": 0}),
        ("minimal", {"includeThoughts": True, "thinkingBudget": 512}),
        ("low", {"includeThoughts": True, "thinkingBudget": 1024}),
        ("medium", {"includeThoughts": True, "thinkingBudget": 8192}),
        ("high", {"includeThoughts": True, "thinkingBudget": 24576}),
    ],
)
def test_reasoning_effort_is_the_thinking_config(effort: str, thinking: Dict[str, Any]) -> None:
    config = body(model="gemini-2.5-flash", reasoning_effort=effort)["generationConfig"]
    assert config == {"thinkingConfig": thinking}


def test_thinking_options_override_the_effort() -> None:
    sent = body(reasoning_effort="low", options={"thinking_budget": -1, "include_thoughts": False})
    assert sent["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": False,
        "thinkingBudget": -1,
    }


def test_an_unknown_reasoning_effort_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="reasoning_effort"):
        body(reasoning_effort="extreme")


def test_logit_bias_is_refused_rather_than_dropped() -> None:
    with pytest.raises(InvalidRequestError, match="logit_bias"):
        body(logit_bias={"50256": -100.0})


def test_safety_settings_option_is_passed_through() -> None:
    settings = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    assert body(options={"safety_settings": settings})["safetySettings"] == settings


def test_malformed_safety_settings_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="safety_settings"):
        body(options={"safety_settings": "none"})


def test_thought_signatures_go_back_on_the_parts_they_came_with() -> None:
    reasoning = [
        {"text": "Pondering", "metadata": {"thoughtSignature": "dGhvdWdodA=="}},
        {"text": "", "redacted": True, "metadata": {"thoughtSignature": "dGV4dA=="}},
        {
            "text": "",
            "redacted": True,
            "metadata": {"thoughtSignature": "YzI=", "toolCallId": "c2"},
        },
    ]
    answer = {**CALL, "content": "Let me see", "reasoning": reasoning}
    contents = body(messages=[{"role": "user", "content": "Hi"}, answer])["contents"]
    assert contents[1]["parts"] == [
        {"text": "Pondering", "thought": True, "thoughtSignature": "dGhvdWdodA=="},
        {"text": "Let me see", "thoughtSignature": "dGV4dA=="},
        {"functionCall": {"name": "get_weather", "args": {"city": "Zürich"}}},
        {"functionCall": {"name": "get_time", "args": {}}, "thoughtSignature": "YzI="},
    ]


def test_reasoning_without_a_thought_signature_is_not_sent() -> None:
    reasoning = [
        {"text": "unsigned thoughts"},
        {"text": "Claude's", "metadata": {"signature": "anthropic-signature"}},
    ]
    answer = {"role": "assistant", "content": "Salut", "reasoning": reasoning}
    contents = body(messages=[{"role": "user", "content": "Hi"}, answer])["contents"]
    assert contents[1]["parts"] == [{"text": "Salut"}]
