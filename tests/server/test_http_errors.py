"""Raw HTTP against ``chatplug serve``: statuses and OpenAI-shaped error bodies."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple

import aiohttp
import pytest
from server_harness import ServerProcess, wait_for_entry

USER = [{"role": "user", "content": "hello"}]


async def post(
    server: ServerProcess,
    body: Any = None,
    *,
    data: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
) -> Tuple[int, Dict[str, str], bytes]:
    raw = data if data is not None else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{server.url}/v1/chat/completions",
            data=raw,
            headers={"Content-Type": "application/json", **(headers or {})},
        ) as response:
            return response.status, dict(response.headers), await response.read()


def error_of(body: bytes) -> Dict[str, Any]:
    payload = json.loads(body)
    assert set(payload) == {"error"}
    error = payload["error"]
    assert {"message", "type", "code"} <= set(error)
    assert isinstance(error["message"], str) and error["message"]
    return error  # type: ignore[no-any-return]


def chat(prompt: str, **extra: Any) -> Dict[str, Any]:
    return {"model": "servertest/echo", "messages": [{"role": "user", "content": prompt}], **extra}


async def test_bad_json_is_400_invalid_json(server: ServerProcess) -> None:
    status, _, body = await post(server, data=b'{"model": "servertest/echo", ')
    assert status == 400
    assert error_of(body)["code"] == "invalid_json"


async def test_a_json_array_body_is_400(server: ServerProcess) -> None:
    status, _, body = await post(server, [1, 2])
    assert status == 400
    assert error_of(body)["code"] == "invalid_json"


@pytest.mark.parametrize(
    "messages",
    [
        [],
        "hello",
        [{"role": "tool", "content": "x"}],
        [{"role": "user", "content": 5}],
        [{"role": "user", "content": "   "}],
    ],
    ids=["empty", "string", "tool-role", "number-content", "blank"],
)
async def test_invalid_messages_are_400(server: ServerProcess, messages: Any) -> None:
    status, _, body = await post(server, {"model": "servertest/echo", "messages": messages})
    assert status == 400
    error = error_of(body)
    assert error["code"] == "invalid_messages"
    assert error["param"] == "messages"


async def test_missing_model_is_400(server: ServerProcess) -> None:
    status, _, body = await post(server, {"messages": USER})
    assert status == 400
    assert error_of(body)["param"] == "model"


@pytest.mark.parametrize(
    "field, value",
    [("temperature", "hot"), ("max_tokens", -1), ("stop", [1]), ("stream", "yes"), ("n", 3)],
)
async def test_invalid_option_is_400_naming_it(
    server: ServerProcess, field: str, value: Any
) -> None:
    status, _, body = await post(server, chat("hello", **{field: value}))
    assert status == 400
    assert error_of(body)["param"] == field


async def test_unknown_fields_are_ignored(server: ServerProcess) -> None:
    status, _, body = await post(
        server, chat("hello", frequency_penalty=1, tools=[], seed=3, something_new={"a": 1})
    )
    assert status == 200
    assert json.loads(body)["choices"][0]["message"]["content"].startswith("Hello from echo")


async def test_developer_role_is_taken_as_system(server: ServerProcess) -> None:
    messages = [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"}]
    status, _, body = await post(server, {"model": "servertest/echo", "messages": messages})
    assert status == 200
    assert "System: be brief" in json.loads(body)["choices"][0]["message"]["content"]


async def test_unknown_model_is_404(server: ServerProcess) -> None:
    status, _, body = await post(server, {"model": "no-such-model", "messages": USER})
    assert status == 404
    assert error_of(body)["code"] == "model_not_found"


async def test_unknown_provider_is_404(server: ServerProcess) -> None:
    status, _, body = await post(server, {"model": "nosuch/echo", "messages": USER})
    assert status == 404
    assert error_of(body)["code"] == "model_not_found"


async def test_upstream_http_failure_is_502_naming_the_provider(server: ServerProcess) -> None:
    status, _, body = await post(server, chat("status:500"))
    assert status == 502
    error = error_of(body)
    assert error["type"] == "upstream_error"
    assert error["code"] == "upstream_http_error"
    assert error["provider"] == "servertest"
    assert "500" in error["message"]


async def test_upstream_rate_limit_is_429_with_retry_after(server: ServerProcess) -> None:
    status, headers, body = await post(server, chat("status:429"))
    assert status == 429
    assert headers["Retry-After"] == "30"
    assert error_of(body)["code"] == "rate_limit_exceeded"


async def test_upstream_first_byte_timeout_is_504(server: ServerProcess) -> None:
    status, _, body = await post(server, chat("slow-first"))
    assert status == 504
    error = error_of(body)
    assert error["type"] == "timeout_error"
    assert error["code"].startswith("upstream_timeout")


async def test_upstream_answer_without_text_is_502(server: ServerProcess) -> None:
    status, _, body = await post(server, chat("empty"))
    assert status == 502
    assert error_of(body)["code"] == "stream_protocol_error"


async def test_streaming_error_before_the_first_chunk_gets_an_http_status(
    server: ServerProcess,
) -> None:
    status, headers, body = await post(server, chat("status:500", stream=True))
    assert status == 502
    assert headers["Content-Type"].startswith("application/json")
    assert error_of(body)["code"] == "upstream_http_error"


async def test_streaming_error_after_the_first_chunk_is_a_final_error_event(
    server: ServerProcess,
) -> None:
    status, headers, body = await post(server, chat("break-after:3", stream=True))
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    events = [line[6:] for line in body.decode().split("\n\n") if line.startswith("data: ")]
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert last["error"]["type"] == "upstream_error"
    contents = [
        json.loads(event)["choices"][0]["delta"].get("content", "") for event in events[:-1]
    ]
    assert "".join(contents) == "piece0 piece1 piece2 "


async def test_streaming_ends_with_done(server: ServerProcess) -> None:
    status, _, body = await post(server, chat("count:3:0", stream=True))
    assert status == 200
    text = body.decode()
    assert text.endswith("data: [DONE]\n\n")
    events = [json.loads(e[6:]) for e in text.split("\n\n") if e.startswith("data: {")]
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


async def test_oversized_body_is_413(server: ServerProcess) -> None:
    big = "x" * (9 * 1024 * 1024)
    status, _, body = await post(server, chat(big))
    assert status == 413
    assert error_of(body)["code"] == "request_too_large"


async def test_unknown_endpoint_is_404_json(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/v1/nothing") as response:
            assert response.status == 404
            assert error_of(await response.read())["code"] == "not_found"


async def test_wrong_method_is_405_json(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/v1/chat/completions") as response:
            assert response.status == 405
            assert error_of(await response.read())["code"] == "method_not_allowed"


async def test_health_reports_ok_and_loaded_providers(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/health") as response:
            assert response.status == 200
            health = await response.json()
    assert health["status"] == "ok"
    assert {p["name"] for p in health["providers"]} == {"servertest", "servertwo"}


async def test_access_log_has_one_json_line_per_request(server: ServerProcess) -> None:
    status, _, _ = await post(server, chat("count:4:0.02", stream=True))
    assert status == 200
    entry = wait_for_entry(server, lambda e: e["stream"] is True and e["chars"] == 8)
    assert entry["status"] == 200
    assert entry["path"] == "/v1/chat/completions"
    assert entry["provider"] == "servertest" and entry["model"] == "echo"
    assert 1 <= entry["chunks"] <= 4
    assert entry["ttfc_ms"] is not None and entry["total_ms"] >= entry["ttfc_ms"]


async def test_access_log_records_the_error_code(server: ServerProcess) -> None:
    await post(
        server, {"model": "servertwo/solo", "messages": [{"role": "user", "content": "status:503"}]}
    )
    entry = wait_for_entry(server, lambda e: e["provider"] == "servertwo" and e["status"] != 200)
    assert entry["status"] == 502
    assert entry["error"] == "upstream_http_error"
