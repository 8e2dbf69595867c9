"""The emulator speaks the Gemini API: checked with raw HTTP requests."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Dict, List, NamedTuple, Optional

import aiohttp
import pytest
from chatplug.emulation import BASE_PATH, RunningEmulator, emulator_factory
from chatplug.testing import emulator_process
from chatplug_gemini.emulator import FAULTS, STREAM_ENDS, create_app, sign

from .conftest import StartEmulator

KEY = "AIza-emulator-key-0123456789"
USER = {"role": "user", "parts": [{"text": "Quoi de neuf ? ✓"}]}
WEATHER = {
    "name": "get_weather",
    "parametersJsonSchema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}
TIME = {"name": "get_time"}


class Answer(NamedTuple):
    status: int
    headers: Any
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)

    def events(self) -> List[Dict[str, Any]]:
        """The ``data:`` objects of an SSE body."""
        blocks = self.raw.decode().split("\r\n\r\n")
        return [json.loads(block[6:]) for block in blocks if block.startswith("data: ")]


async def post(
    emulator: RunningEmulator,
    body: Any,
    *,
    model: str = "gemini-2.0-flash",
    method: str = "streamGenerateContent",
    alt: Optional[str] = "sse",
    key: Optional[str] = None,
) -> Answer:
    url = f"{emulator.url}/v1beta/models/{model}:{method}"
    params = {"alt": alt} if alt else {}
    headers = {"x-goog-api-key": key} if key else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session:
        async with session.post(url, params=params, data=data, headers=headers) as response:
            return Answer(response.status, response.headers, await response.read())


def texts(events: List[Dict[str, Any]], thought: bool = False) -> str:
    return "".join(
        part.get("text", "")
        for event in events
        for candidate in event.get("candidates", ())
        for part in candidate["content"].get("parts", ())
        if bool(part.get("thought")) == thought
    )


def parts(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [
        part
        for event in events
        for candidate in event.get("candidates", ())
        for part in candidate["content"].get("parts", ())
    ]


def finish(events: List[Dict[str, Any]]) -> Optional[str]:
    return events[-1]["candidates"][0].get("finishReason")


def test_the_emulator_is_registered_at_the_server_root() -> None:
    app = emulator_factory("gemini")()
    assert app.get(BASE_PATH, "") == ""


# --- answers -------------------------------------------------------------------------


async def test_sse_stream_ends_with_stop_usage_and_the_recorded_reply(
    emulator: RunningEmulator,
) -> None:
    answer = await post(emulator, {"contents": [USER]})
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/event-stream")
    events = answer.events()
    assert texts(events) == emulator.replies[-1]
    assert "Quoi de neuf ? ✓" in emulator.replies[-1]
    assert finish(events) == "STOP"
    usage = events[-1]["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert events[0]["modelVersion"] == "gemini-2.0-flash" and events[0]["responseId"]


async def test_without_alt_sse_the_stream_is_a_json_array(emulator: RunningEmulator) -> None:
    events = (await post(emulator, {"contents": [USER]}, alt=None)).json()
    assert isinstance(events, list) and len(events) > 1
    assert texts(events) == emulator.replies[-1]


async def test_generate_content_answers_one_merged_response(emulator: RunningEmulator) -> None:
    response = (await post(emulator, {"contents": [USER]}, method="generateContent")).json()
    candidate = response["candidates"][0]
    assert candidate["content"]["parts"] == [{"text": emulator.replies[-1]}]
    assert candidate["finishReason"] == "STOP"


async def test_snake_case_field_names_are_accepted_like_camel_case(
    emulator: RunningEmulator,
) -> None:
    body = {
        "contents": [USER],
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "generation_config": {"max_output_tokens": 2},
    }
    events = (await post(emulator, body)).events()
    assert texts(events) == "Hello from" and finish(events) == "MAX_TOKENS"


async def test_the_v1_api_answers_too(emulator: RunningEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.url}/v1/models/gemini-2.0-flash:generateContent"
        async with session.post(url, json={"contents": [USER]}) as response:
            answer = await response.json()
    assert answer["candidates"][0]["content"]["parts"] == [{"text": emulator.replies[-1]}]


async def test_models_are_listed(emulator: RunningEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{emulator.url}/v1beta/models") as response:
            listed = await response.json()
    assert "models/gemini-2.5-flash" in [model["name"] for model in listed["models"]]


async def test_the_reply_counts_the_user_turns(emulator: RunningEmulator) -> None:
    model = {"role": "model", "parts": [{"text": "Salut"}]}
    last = {"role": "user", "parts": [{"text": "Encore"}]}
    await post(emulator, {"contents": [USER, model, last]})
    assert "turn 2: «Encore»" in emulator.replies[-1]


async def test_max_output_tokens_cuts_the_answer_with_max_tokens(
    emulator: RunningEmulator,
) -> None:
    body = {"contents": [USER], "generationConfig": {"maxOutputTokens": 3}}
    events = (await post(emulator, body)).events()
    assert texts(events) == "Hello from the"
    assert finish(events) == "MAX_TOKENS"
    assert events[-1]["usageMetadata"]["candidatesTokenCount"] == 3


async def test_a_stop_sequence_ends_the_answer_before_it(emulator: RunningEmulator) -> None:
    body = {"contents": [USER], "generationConfig": {"stopSequences": ["émulateur"]}}
    events = (await post(emulator, body)).events()
    assert texts(events) == "Hello from the Gemini "
    assert finish(events) == "STOP"


async def test_thoughts_come_first_with_a_signature_on_the_answer(
    emulator: RunningEmulator,
) -> None:
    config = {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}}
    events = (
        await post(
            emulator, {"contents": [USER], "generationConfig": config}, model="gemini-2.5-flash"
        )
    ).events()
    sent = parts(events)
    assert sent[0]["thought"] is True
    first_answer = next(part for part in sent if not part.get("thought"))
    assert first_answer["thoughtSignature"]
    assert texts(events, thought=True).startswith("Pondering")
    assert events[-1]["usageMetadata"]["thoughtsTokenCount"] > 0


async def test_a_thought_signature_it_issued_comes_back_accepted(
    emulator: RunningEmulator,
) -> None:
    config = {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}}
    request = {"contents": [USER], "generationConfig": config}
    events = (await post(emulator, request, model="gemini-2.5-flash")).events()
    text = texts(events)
    answer = {"text": text, "thoughtSignature": sign("text", text)}
    again = [USER, {"role": "model", "parts": [answer]}, {"role": "user", "parts": [{"text": "?"}]}]
    assert (await post(emulator, {"contents": again}, model="gemini-2.5-flash")).status == 200


@pytest.mark.parametrize(
    "part",
    [
        {"text": "an answer it never gave", "thoughtSignature": sign("text", "another answer")},
        {"functionCall": {"name": "get_time"}, "thoughtSignature": sign("text", "x")},
        {"text": "x", "thoughtSignature": "not base64 ✓"},
    ],
)
async def test_a_thought_signature_it_did_not_issue_for_the_part_is_refused(
    emulator: RunningEmulator, part: Dict[str, Any]
) -> None:
    again = [USER, {"role": "model", "parts": [part]}, {"role": "user", "parts": [{"text": "?"}]}]
    answer = await post(emulator, {"contents": again, "tools": [{"functionDeclarations": [TIME]}]})
    assert answer.status == 400
    assert "signature" in answer.json()["error"]["message"].lower()


async def test_thoughts_that_use_up_max_output_tokens_leave_no_answer(
    emulator: RunningEmulator,
) -> None:
    config = {"thinkingConfig": {"includeThoughts": True}, "maxOutputTokens": 3}
    body = {"contents": [USER], "generationConfig": config}
    events = (await post(emulator, body, model="gemini-2.5-flash")).events()
    assert all(part.get("thought") for part in parts(events))
    assert texts(events) == "" and finish(events) == "MAX_TOKENS"


async def test_a_thinking_model_thinks_unseen_without_include_thoughts(
    emulator: RunningEmulator,
) -> None:
    events = (await post(emulator, {"contents": [USER]}, model="gemini-2.5-pro")).events()
    assert not any(part.get("thought") for part in parts(events))
    assert events[-1]["usageMetadata"]["thoughtsTokenCount"] > 0


async def test_json_mode_answers_an_instance_of_the_schema(emulator: RunningEmulator) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "ok": {"type": "boolean"}}}
    config = {"responseMimeType": "application/json", "responseJsonSchema": schema}
    events = (await post(emulator, {"contents": [USER], "generationConfig": config})).events()
    assert json.loads(texts(events)) == {"n": 1, "ok": True}


async def test_a_prefix_seen_before_is_reported_as_cached(emulator: RunningEmulator) -> None:
    first = (await post(emulator, {"contents": [USER]})).events()[-1]["usageMetadata"]
    history = [
        USER,
        {"role": "model", "parts": [{"text": "Salut"}]},
        {"role": "user", "parts": [{"text": "Et toi ?"}]},
    ]
    second = (await post(emulator, {"contents": history})).events()[-1]["usageMetadata"]
    assert "cachedContentTokenCount" not in first
    assert second["cachedContentTokenCount"] == first["promptTokenCount"]


# --- function calls --------------------------------------------------------------------


def tools(*declarations: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [{"functionDeclarations": list(declarations)}]


async def test_naming_two_tools_gives_parallel_calls_in_one_chunk(
    emulator: RunningEmulator,
) -> None:
    user = {"role": "user", "parts": [{"text": "Use get_weather and get_time, please"}]}
    events = (await post(emulator, {"contents": [user], "tools": tools(WEATHER, TIME)})).events()
    calls = [part["functionCall"] for part in events[0]["candidates"][0]["content"]["parts"]]
    assert calls == [
        {"name": "get_weather", "args": {"city": "city ✓"}},
        {"name": "get_time", "args": {}},
    ]
    assert finish(events) == "STOP"
    assert emulator.replies[-1] == ""


async def test_a_text_that_names_no_tool_is_answered_in_text(emulator: RunningEmulator) -> None:
    events = (await post(emulator, {"contents": [USER], "tools": tools(WEATHER)})).events()
    assert not any("functionCall" in part for part in parts(events))


async def test_mode_any_calls_the_first_allowed_function(emulator: RunningEmulator) -> None:
    config = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}}
    body = {"contents": [USER], "tools": tools(WEATHER, TIME), "toolConfig": config}
    events = (await post(emulator, body)).events()
    assert [part["functionCall"]["name"] for part in parts(events)] == ["get_time"]


async def test_mode_none_never_calls(emulator: RunningEmulator) -> None:
    user = {"role": "user", "parts": [{"text": "get_weather"}]}
    config = {"functionCallingConfig": {"mode": "NONE"}}
    body = {"contents": [user], "tools": tools(WEATHER), "toolConfig": config}
    assert not any("functionCall" in part for part in parts((await post(emulator, body)).events()))


async def test_function_responses_are_answered_in_text(emulator: RunningEmulator) -> None:
    user = {"role": "user", "parts": [{"text": "get_weather"}]}
    call = {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}],
    }
    result = {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"celsius": 3}}}],
    }
    events = (
        await post(emulator, {"contents": [user, call, result], "tools": tools(WEATHER)})
    ).events()
    assert 'get_weather → {"celsius": 3}' in texts(events)


# --- refusals --------------------------------------------------------------------------


def image(data: str) -> Dict[str, Any]:
    return {"inlineData": {"mimeType": "image/png", "data": data}}


CALL_TURN = {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]}


def answer_turn(*names: str) -> Dict[str, Any]:
    return {
        "role": "user",
        "parts": [{"functionResponse": {"name": n, "response": {}}} for n in names],
    }


@pytest.mark.parametrize(
    ("body", "model", "status", "fragment"),
    [
        ({}, "gemini-2.0-flash", 400, "contents is not specified"),
        ({"contents": []}, "gemini-2.0-flash", 400, "contents is not specified"),
        ({"contents": [USER], "stream": True}, "gemini-2.0-flash", 400, 'Unknown name "stream"'),
        (
            {"contents": [{"role": "assistant", "parts": [{"text": "a"}]}]},
            "gemini-2.0-flash",
            400,
            "valid role",
        ),
        (
            {"contents": [{"role": "user", "parts": []}]},
            "gemini-2.0-flash",
            400,
            "must not be empty",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"text": ""}]}]},
            "gemini-2.0-flash",
            400,
            "oneof field 'data'",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"text": "a", **image("AA==")}]}]},
            "gemini-2.0-flash",
            400,
            "already set",
        ),
        (
            {"contents": [{"role": "user", "parts": [image("not base64!")]}]},
            "gemini-2.0-flash",
            400,
            "Base64 decoding failed",
        ),
        (
            {"contents": [CALL_TURN]},
            "gemini-2.0-flash",
            400,
            "function call turn comes immediately after",
        ),
        (
            {"contents": [USER, answer_turn("get_weather")]},
            "gemini-2.0-flash",
            400,
            "function response turn comes",
        ),
        (
            {"contents": [USER, CALL_TURN, answer_turn("get_weather", "get_weather")]},
            "gemini-2.0-flash",
            400,
            "number of function response parts",
        ),
        (
            {"contents": [USER, CALL_TURN, answer_turn("get_time")]},
            "gemini-2.0-flash",
            400,
            "names match",
        ),
        (
            {"contents": [USER], "tools": tools({"name": "bad name"})},
            "gemini-2.0-flash",
            400,
            "Invalid function name",
        ),
        (
            {
                "contents": [USER],
                "tools": tools(WEATHER),
                "toolConfig": {
                    "functionCallingConfig": {
                        "mode": "AUTO",
                        "allowedFunctionNames": ["get_weather"],
                    }
                },
            },
            "gemini-2.0-flash",
            400,
            "only allowed when mode is ANY",
        ),
        (
            {"contents": [USER], "generationConfig": {"temperature": 3}},
            "gemini-2.0-flash",
            400,
            "temperature",
        ),
        (
            {"contents": [USER], "generationConfig": {"stopSequences": list("abcdef")}},
            "gemini-2.0-flash",
            400,
            "at most 5",
        ),
        (
            {"contents": [USER], "generationConfig": {"responseJsonSchema": {"type": "object"}}},
            "gemini-2.0-flash",
            400,
            "response_mime_type",
        ),
        (
            {"contents": [USER], "generationConfig": {"thinkingConfig": {"thinkingBudget": 100}}},
            "gemini-2.0-flash",
            400,
            "Thinking is not supported",
        ),
        (
            {"contents": [USER], "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}},
            "gemini-2.5-pro",
            400,
            "only works in thinking mode",
        ),
        ({"contents": [USER]}, "gemini-9-ultra", 404, "models/gemini-9-ultra is not found"),
    ],
)
async def test_invalid_requests_are_refused_in_google_error_shape(
    emulator: RunningEmulator, body: Dict[str, Any], model: str, status: int, fragment: str
) -> None:
    answer = await post(emulator, body, model=model)
    assert answer.status == status
    error = answer.json()["error"]
    assert error["code"] == status
    assert error["status"] == ("NOT_FOUND" if status == 404 else "INVALID_ARGUMENT")
    assert fragment in error["message"]


async def test_a_body_that_is_not_json_is_refused(emulator: RunningEmulator) -> None:
    answer = await post(emulator, b"{nope")
    assert answer.status == 400 and "Invalid JSON payload" in answer.json()["error"]["message"]


async def test_an_unknown_method_is_not_found(emulator: RunningEmulator) -> None:
    answer = await post(emulator, {"contents": [USER]}, method="embedContent")
    assert answer.status == 404 and answer.json()["error"]["status"] == "NOT_FOUND"


async def test_without_a_key_when_one_is_required_permission_is_denied(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(require_key=True)
    answer = await post(emulator, {"contents": [USER]})
    assert answer.status == 403
    assert answer.json()["error"]["status"] == "PERMISSION_DENIED"


async def test_a_wrong_key_is_400_api_key_invalid(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator(keys=[KEY])
    answer = await post(emulator, {"contents": [USER]}, key="AIza-wrong")
    error = answer.json()["error"]
    assert answer.status == 400 and error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["reason"] == "API_KEY_INVALID"


async def test_the_right_key_passes_in_the_header_or_the_query(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(keys=[KEY])
    by_header = await post(emulator, {"contents": [USER]}, key=KEY)
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.url}/v1beta/models/gemini-2.0-flash:generateContent"
        async with session.post(url, params={"key": KEY}, json={"contents": [USER]}) as response:
            by_query = response.status
    assert (by_header.status, by_query) == (200, 200)


# --- faults ----------------------------------------------------------------------------


async def test_the_fault_script_is_consumed_one_request_at_a_time(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(faults=["rate_limit:3", "unavailable", None])
    limited = await post(emulator, {"contents": [USER]})
    overloaded = await post(emulator, {"contents": [USER]})
    normal = await post(emulator, {"contents": [USER]})
    after = await post(emulator, {"contents": [USER]})
    assert emulator.app[FAULTS] == []
    assert limited.status == 429 and limited.headers["Retry-After"] == "3"
    error = limited.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["details"][0]["retryDelay"] == "3s"
    assert overloaded.status == 503 and overloaded.json()["error"]["status"] == "UNAVAILABLE"
    assert (normal.status, after.status) == (200, 200)


async def test_a_fault_named_in_the_last_user_text_is_injected(
    emulator: RunningEmulator,
) -> None:
    user = {"role": "user", "parts": [{"text": "Hi [fault:internal]"}]}
    answer = await post(emulator, {"contents": [user]})
    assert answer.status == 500 and answer.json()["error"]["status"] == "INTERNAL"


async def test_error_mid_stream_sends_half_the_answer_then_an_error_event(
    emulator: RunningEmulator,
) -> None:
    emulator.app[FAULTS].append("error_mid_stream")
    events = (await post(emulator, {"contents": [USER]})).events()
    assert events[-1]["error"]["status"] == "INTERNAL"
    assert texts(events[:-1]) == emulator.replies[-1] != ""
    assert all("finishReason" not in event.get("candidates", [{}])[0] for event in events)


async def test_error_mid_stream_is_the_last_element_of_a_json_array_stream(
    emulator: RunningEmulator,
) -> None:
    emulator.app[FAULTS].append("error_mid_stream")
    events = (await post(emulator, {"contents": [USER]}, alt=None)).json()
    assert events[-1]["error"]["code"] == 500
    assert texts(events[:-1]) == emulator.replies[-1] != ""


async def test_truncate_ends_inside_an_event_without_a_finish_reason(
    emulator: RunningEmulator,
) -> None:
    emulator.app[FAULTS].append("truncate")
    answer = await post(emulator, {"contents": [USER]})
    assert not answer.raw.endswith(b"\r\n\r\n")
    assert b"finishReason" not in answer.raw
    assert emulator.app[STREAM_ENDS][-1] == "complete"


async def test_disconnect_drops_the_connection_mid_stream(emulator: RunningEmulator) -> None:
    emulator.app[FAULTS].append("disconnect")
    with pytest.raises(aiohttp.ClientPayloadError):
        await post(emulator, {"contents": [USER]})
    assert emulator.app[STREAM_ENDS][-1] == "disconnected"


async def test_blocked_answers_prompt_feedback_without_candidates(
    emulator: RunningEmulator,
) -> None:
    emulator.app[FAULTS].append("blocked")
    events = (await post(emulator, {"contents": [USER]})).events()
    assert events == [{**events[0], "promptFeedback": {"blockReason": "SAFETY"}}]
    assert "candidates" not in events[0]


async def test_a_stream_fault_fails_a_generate_content_request_whole(
    emulator: RunningEmulator,
) -> None:
    emulator.app[FAULTS].append("truncate")
    answer = await post(emulator, {"contents": [USER]}, method="generateContent")
    assert answer.status == 500 and answer.json()["error"]["status"] == "INTERNAL"


@pytest.mark.parametrize("fault", ["safety", "recitation", "malformed_function_call"])
async def test_finish_reason_faults_end_the_answer_with_that_reason(
    emulator: RunningEmulator, fault: str
) -> None:
    emulator.app[FAULTS].append(fault)
    assert finish((await post(emulator, {"contents": [USER]})).events()) == fault.upper()


def test_an_unknown_fault_is_refused_when_the_app_is_made() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        create_app(faults=["gremlins"])


def test_the_module_serves_the_emulator_alone() -> None:
    with emulator_process("chatplug_gemini.emulator") as served:
        assert served.line == f"Gemini emulator on http://127.0.0.1:{served.port}"
        url = served.url + "/v1beta/models/gemini-2.0-flash:generateContent"
        body = json.dumps({"contents": [USER]}).encode()
        request = urllib.request.Request(url, data=body, headers={"x-goog-api-key": KEY})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["candidates"][0]["finishReason"] == "STOP"
