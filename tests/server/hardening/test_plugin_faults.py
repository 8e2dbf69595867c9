"""A plugin that raises anything (``SystemExit`` included) or yields something that is not
text, through ``chatplug serve``: that request gets a well-formed error, the server and
the other requests carry on.  Every response is read with strict HTTP/1.1 framing."""

from __future__ import annotations

import json

import pytest
from rawhttp import RawConnection, chat, get
from server_harness import ServerProcess, start_server_with

pytestmark = pytest.mark.timeout(60)

FAULTS = ["exit", "interrupt", "cancel", "genexit", "raise", "bytes", "dict"]


def assert_plugin_error(payload: bytes) -> None:
    error = json.loads(payload)["error"]
    assert error["code"] == "plugin_error"
    assert error["type"] == "upstream_error"
    assert error["provider"] == "faulty"


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_before_any_text_is_a_502_json_error_of_the_right_length(
    faulty_server: ServerProcess, fault: str
) -> None:
    assert faulty_server.url is not None
    with RawConnection.to(faulty_server.url) as connection:
        response = connection.request(chat(f"{fault}-before", stream=True))
    assert response.status == 502
    assert not response.chunked
    assert int(response.headers["content-length"]) == len(response.body)
    assert response.headers["content-type"].startswith("application/json")
    assert_plugin_error(response.body)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_after_text_ends_the_stream_with_one_error_event_and_a_clean_end(
    faulty_server: ServerProcess, fault: str
) -> None:
    assert faulty_server.url is not None
    with RawConnection.to(faulty_server.url) as connection:
        response = connection.request(chat(f"{fault}-after", stream=True))
        again = connection.request(chat("hello", stream=False))  # same connection, still fine
    assert response.status == 200
    assert response.chunked
    events = response.events()
    assert "[DONE]" not in events
    errors = [event for event in events if '"error"' in event]
    assert errors == [events[-1]]
    assert_plugin_error(events[-1].encode())
    contents = [json.loads(event)["choices"][0]["delta"].get("content") for event in events[:-1]]
    assert "".join(content or "" for content in contents) == "partial "
    assert again.status == 200
    assert again.json()["choices"][0]["message"]["content"] == "hello from faulty"


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_in_an_unstreamed_answer_is_a_502_json_error_of_the_right_length(
    faulty_server: ServerProcess, fault: str, when: str
) -> None:
    assert faulty_server.url is not None
    with RawConnection.to(faulty_server.url) as connection:
        response = connection.request(chat(f"{fault}-{when}", stream=False))
    assert response.status == 502
    assert int(response.headers["content-length"]) == len(response.body)
    assert_plugin_error(response.body)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("fault", ["exit", "interrupt"])
def test_the_server_survives_a_plugin_raising_system_exit_or_keyboard_interrupt(
    faulty_server: ServerProcess, fault: str, when: str
) -> None:
    assert faulty_server.url is not None
    with RawConnection.to(faulty_server.url) as connection:
        connection.request(chat(f"{fault}-{when}", stream=True))
    with RawConnection.to(faulty_server.url) as connection:
        health = connection.request(get("/health"))
        answer = connection.request(chat("hello", stream=True))
    assert faulty_server.proc.poll() is None
    assert health.status == 200
    assert answer.events()[-1] == "[DONE]"


def test_the_server_starts_when_a_plugin_raises_system_exit_on_import(
    faulty_env: "dict[str, str]",
) -> None:
    server = start_server_with(dict(faulty_env, CHATPLUG_PLUGINS="faulty,exits"))
    try:
        assert server.url is not None
        with RawConnection.to(server.url) as connection:
            health = connection.request(get("/health")).json()
            missing = connection.request(chat("hello", stream=False, model="exits/m"))
        statuses = {provider["name"]: provider["status"] for provider in health["providers"]}
        assert statuses == {"exits": "failed", "faulty": "loaded"}
        assert missing.status == 503
        assert "SystemExit" in missing.json()["error"]["message"]
    finally:
        server.stop()
