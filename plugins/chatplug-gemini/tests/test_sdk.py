"""The emulator against Google's own SDK (``google-genai``), when it is installed."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from chatplug.emulation import EmulatorThread, RunningEmulator
from chatplug_gemini.emulator import create_app

genai = pytest.importorskip("google.genai")
types = pytest.importorskip("google.genai.types")

KEY = "AIza-sdk-key-0123456789"


@pytest.fixture
def sdk_emulator() -> Iterator[RunningEmulator]:
    with EmulatorThread(create_app(keys=[KEY])) as running:
        yield running


def sdk(emulator: RunningEmulator, key: str = KEY) -> Any:
    options = types.HttpOptions(
        base_url=emulator.url,
        api_version="v1beta",
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key=key, http_options=options)


def test_the_sdk_reads_text_finish_and_usage(sdk_emulator: RunningEmulator) -> None:
    client = sdk(sdk_emulator)
    response = client.models.generate_content(model="gemini-2.0-flash", contents="Bonjour ✓")
    assert response.text == sdk_emulator.replies[-1]
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata.candidates_token_count == 13


def test_the_sdk_streams_until_max_tokens(sdk_emulator: RunningEmulator) -> None:
    client = sdk(sdk_emulator)
    config = types.GenerateContentConfig(max_output_tokens=3, temperature=0.3)
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.0-flash", contents="Hi", config=config
        )
    )
    assert "".join(chunk.text for chunk in chunks) == "Hello from the"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


def test_the_sdk_runs_a_function_call_round_trip(sdk_emulator: RunningEmulator) -> None:
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    client = sdk(sdk_emulator)
    config = types.GenerateContentConfig(tools=[get_weather])
    response = client.models.generate_content(
        model="gemini-2.5-flash", contents="Use get_weather, please", config=config
    )
    assert 'get_weather → {"result": "sunny in city ✓"}' in response.text


def test_the_sdk_sees_thoughts_when_it_asks_for_them(sdk_emulator: RunningEmulator) -> None:
    client = sdk(sdk_emulator)
    thinking = types.ThinkingConfig(include_thoughts=True, thinking_budget=512)
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="Think ✓",
        config=types.GenerateContentConfig(thinking_config=thinking),
    )
    parts = response.candidates[0].content.parts
    assert parts[0].thought and parts[0].text.startswith("Pondering")
    assert not parts[-1].thought and parts[-1].text == sdk_emulator.replies[-1]


def test_the_sdk_gets_api_key_invalid_for_a_wrong_key(sdk_emulator: RunningEmulator) -> None:
    client = sdk(sdk_emulator, key="AIza-wrong")
    with pytest.raises(genai.errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.0-flash", contents="Hi")
    assert caught.value.code == 400
    assert caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
