"""``/v1/responses`` and ``/v1/messages`` on the wire, through ``chatplug serve`` (a subprocess)
and a contract 0.1 provider: event framing, error shapes and statuses, headers, the key,
client disconnects and the access log."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

import aiohttp
import pytest
from chatplug.emulation import RunningEmulator
from server_harness import ServerProcess, start_server, wait_for_entry, wait_upstream_closed

KEY = "sk-translated-0123"
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"


def responses_body(text: str, **extra: Any) -> Dict[str, Any]:
    return {"model": "servertest/echo", "input": text, **extra}


def messages_body(text: str, **extra: Any) -> Dict[str, Any]:
    return {
        "model": "servertest/echo",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


async def post(
    url: str, path: str, body: Any, headers: Optional[Dict[str, str]] = None
) -> Tuple[int, Dict[str, str], str]:
    async with aiohttp.ClientSession() as session:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        async with session.post(url + path, data=data, headers=headers or {}) as response:
            return response.status, dict(response.headers), await response.text()


def parse_events(text: str) -> List[Tuple[str, Dict[str, Any]]]:
    """``(event name, data)`` of every Server-Sent Event in a body."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.fixture(scope="module")
def keyed(plugin_env: Dict[str, str], upstream: RunningEmulator) -> Iterator[ServerProcess]:
    process = start_server(dict(plugin_env, CHATPLUG_API_KEY=KEY), upstream, "--retries", "0")
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("path", "body"),
    [(RESPONSES, responses_body("hi", stream=True)), (MESSAGES, messages_body("hi", stream=True))],
)
async def test_every_event_line_names_its_data_type(
    server: ServerProcess, path: str, body: Dict[str, Any]
) -> None:
    status, headers, text = await post(server.url or "", path, body)
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    events = parse_events(text)
    assert len(events) > 4
    assert all(name == data["type"] for name, data in events)


async def test_responses_stream_of_a_text_only_plugin_ends_completed_with_estimated_usage(
    server: ServerProcess, upstream: RunningEmulator
) -> None:
    _, _, text = await post(server.url or "", RESPONSES, responses_body("hi", stream=True))
    events = parse_events(text)
    deltas = "".join(data["delta"] for name, data in events if name.endswith("output_text.delta"))
    assert deltas == upstream.replies[-1]
    final = events[-1][1]["response"]
    assert final["status"] == "completed"
    assert final["usage"]["output_tokens"] > 0
    assert final["usage"]["estimated"] is True


async def test_answer_headers_name_the_provider_and_model(server: ServerProcess) -> None:
    status, headers, _ = await post(server.url or "", RESPONSES, responses_body("hi"))
    assert status == 200
    assert (headers["x-chatplug-provider"], headers["x-chatplug-model"]) == ("servertest", "echo")


async def test_usage_header_says_the_usage_of_a_plugin_without_usage_is_estimated(
    server: ServerProcess,
) -> None:
    _, headers, _ = await post(server.url or "", MESSAGES, messages_body("hi"))
    assert headers["x-chatplug-usage"] == "estimated"


async def test_streamed_message_marks_an_estimated_usage(server: ServerProcess) -> None:
    _, _, text = await post(server.url or "", MESSAGES, messages_body("hi", stream=True))
    usage = next(data["usage"] for name, data in parse_events(text) if name == "message_delta")
    assert usage["estimated"] is True and usage["output_tokens"] > 0


async def test_messages_errors_have_the_anthropic_shape(server: ServerProcess) -> None:
    status, _, text = await post(server.url or "", MESSAGES, b"{not json")
    assert status == 400
    error = json.loads(text)
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in error["error"]["message"]


async def test_messages_without_max_tokens_is_400(server: ServerProcess) -> None:
    body = messages_body("hi")
    del body["max_tokens"]
    status, _, text = await post(server.url or "", MESSAGES, body)
    assert status == 400
    assert "max_tokens" in json.loads(text)["error"]["message"]


async def test_responses_errors_keep_the_openai_shape(server: ServerProcess) -> None:
    status, _, text = await post(
        server.url or "", RESPONSES, responses_body("hi", conversation="conv_1")
    )
    assert status == 400
    error = json.loads(text)["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "conversation")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (RESPONSES, responses_body("status:500", stream=True)),
        (MESSAGES, messages_body("status:500", stream=True)),
    ],
)
async def test_upstream_failure_before_the_first_piece_is_a_502(
    server: ServerProcess, path: str, body: Dict[str, Any]
) -> None:
    status, _, text = await post(server.url or "", path, body)
    assert status == 502
    assert "servertest" in text


async def test_rate_limited_upstream_is_an_anthropic_rate_limit_error(
    server: ServerProcess,
) -> None:
    status, headers, text = await post(server.url or "", MESSAGES, messages_body("status:429"))
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    assert json.loads(text)["error"]["type"] == "rate_limit_error"


async def test_unknown_path_under_messages_is_an_anthropic_not_found_error(
    server: ServerProcess,
) -> None:
    status, _, text = await post(server.url or "", MESSAGES + "/count_tokens", messages_body("x"))
    assert status == 404
    assert json.loads(text)["error"]["type"] == "not_found_error"


async def test_failure_mid_stream_ends_messages_with_an_error_event(
    server: ServerProcess,
) -> None:
    _, _, text = await post(server.url or "", MESSAGES, messages_body("break-after:2", stream=True))
    name, data = parse_events(text)[-1]
    assert name == "error"
    assert data["error"]["type"] == "api_error"


async def test_access_log_records_a_translated_request(server: ServerProcess) -> None:
    await post(server.url or "", RESPONSES, responses_body("logged", stream=True))
    entry = wait_for_entry(server, lambda e: e["path"] == RESPONSES and e["stream"] is True)
    assert (entry["status"], entry["provider"], entry["model"]) == (200, "servertest", "echo")
    assert entry["chunks"] >= 1 and entry["chars"] > 0


async def test_client_disconnect_closes_the_upstream(
    server: ServerProcess, upstream: RunningEmulator
) -> None:
    async with aiohttp.ClientSession() as session:
        body = messages_body("forever:translated", stream=True)
        async with session.post((server.url or "") + MESSAGES, json=body) as response:
            await response.content.readuntil(b"text_delta")
    assert await wait_upstream_closed(upstream, "translated") < 2.0


@pytest.mark.parametrize("path", [RESPONSES, MESSAGES, "/v1/chat/completions"])
async def test_x_api_key_is_accepted_like_a_bearer_token(keyed: ServerProcess, path: str) -> None:
    body = (
        messages_body("hi")
        if path == MESSAGES
        else responses_body("hi")
        if path == RESPONSES
        else {"model": "servertest/echo", "messages": [{"role": "user", "content": "hi"}]}
    )
    status, _, _ = await post(keyed.url or "", path, body, {"x-api-key": KEY})
    assert status == 200


async def test_wrong_x_api_key_is_an_anthropic_authentication_error(keyed: ServerProcess) -> None:
    status, _, text = await post(
        keyed.url or "", MESSAGES, messages_body("hi"), {"x-api-key": "no"}
    )
    assert status == 401
    assert json.loads(text)["error"]["type"] == "authentication_error"


async def test_bearer_token_works_on_messages(keyed: ServerProcess) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    status, _, _ = await post(keyed.url or "", MESSAGES, messages_body("hi"), headers)
    assert status == 200


async def test_concurrent_translated_streams_do_not_mix(server: ServerProcess) -> None:
    texts = [f"mix {index}" for index in range(4)]
    answers = await asyncio.gather(
        *[post(server.url or "", MESSAGES, messages_body(text, stream=True)) for text in texts]
    )
    for text, (_, _, body) in zip(texts, answers):
        events = parse_events(body)
        said = "".join(data["delta"].get("text", "") for name, data in events if "delta" in data)
        assert said == f"Hello from echo: {text} — ünïcødé ✓"
        assert events[-1][0] == "message_stop"
