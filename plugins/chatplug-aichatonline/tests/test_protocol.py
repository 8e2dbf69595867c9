"""The two requests as sent: paths, headers, payload, UniqueId caching, base_url and proxy."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any, Callable, Dict, List

import aiohttp
import chatplug_aichatonline
import pytest
from chatplug import (
    AsyncClient,
    AuthenticationError,
    CompletionRequest,
    InvalidRequestError,
    Registry,
)
from chatplug.emulation import RunningEmulator
from chatplug_aichatonline import (
    CHAT_PATH,
    UNIQUE_ID_PATH,
    UNIQUE_IDS,
    prompt_of,
    stream_completion,
)
from chatplug_aichatonline.emulator import REQUESTS
from chatplug_aichatonline.emulator import UNIQUE_IDS as ISSUED


def requests(emulator: RunningEmulator, method: str) -> List[Dict[str, Any]]:
    return [r for r in emulator.app[REQUESTS] if r["method"] == method]


async def test_first_request_gets_a_unique_id_with_a_random_canvas(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    await run_hook(emulator.url)
    async with aiohttp.ClientSession() as other:
        await run_hook(emulator.url, on=other)
    gets = requests(emulator, "GET")
    assert [g["path"] for g in gets] == [UNIQUE_ID_PATH, UNIQUE_ID_PATH]
    canvases = [g["query"]["canvas"] for g in gets]
    assert all(c.startswith("-") and len(c) > 1 for c in canvases)
    assert canvases[0] != canvases[1]


async def test_chat_request_carries_the_issued_unique_id(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    await run_hook(emulator.url)
    (post,) = requests(emulator, "POST")
    assert post["path"] == CHAT_PATH
    assert post["headers"]["UniqueId"] in emulator.app[ISSUED]


async def test_chat_body_is_exactly_conversation_id_and_prompt(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    prompt = "User: hi ✓\nAssistant: hello\nUser: again\nAssistant:"
    await run_hook(emulator.url, prompt)
    (post,) = requests(emulator, "POST")
    body = json.loads(post["body"])
    assert set(body) == {"conversationId", "prompt"}
    assert body["prompt"] == prompt
    assert isinstance(body["conversationId"], str) and body["conversationId"]
    assert post["headers"]["Content-Type"].startswith("application/json")


async def test_every_completion_gets_a_new_conversation_id(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    await run_hook(emulator.url)
    await run_hook(emulator.url)
    ids = [json.loads(p["body"])["conversationId"] for p in requests(emulator, "POST")]
    assert len(set(ids)) == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_both_requests_send_browser_headers_of_the_site(
    emulator: RunningEmulator, run_hook: Any, method: str
) -> None:
    await run_hook(emulator.url)
    (sent,) = requests(emulator, method)
    headers = sent["headers"]
    assert headers["Origin"] == "https://aichatonline.org"
    assert headers["Referer"].startswith("https://aichatonline.org/")
    assert headers["User-Agent"].startswith("Mozilla/5.0")
    assert headers["Accept-Language"]
    assert headers["Sec-Fetch-Mode"] == "cors"
    assert headers["Sec-Fetch-Site"] == "cross-site"


async def test_the_reply_streams_in_several_pieces(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    pieces = await run_hook(emulator.url, "hello ✓")
    assert len(pieces) > 1
    assert "".join(pieces) == emulator.replies[-1]
    assert "you said: hello ✓ (turn 1)" in "".join(pieces)


async def test_a_second_completion_reuses_the_cached_unique_id(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    await run_hook(emulator.url)
    await run_hook(emulator.url)
    assert len(requests(emulator, "GET")) == 1
    first, second = requests(emulator, "POST")
    assert first["headers"]["UniqueId"] == second["headers"]["UniqueId"]


async def test_concurrent_completions_share_one_unique_id_fetch(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    results = await asyncio.gather(*(run_hook(emulator.url, f"q{i}") for i in range(5)))
    assert all(results)
    assert len(requests(emulator, "GET")) == 1


async def test_the_cache_is_per_session(emulator: RunningEmulator, run_hook: Any) -> None:
    await run_hook(emulator.url)
    async with aiohttp.ClientSession() as other:
        await run_hook(emulator.url, on=other)
    assert len(requests(emulator, "GET")) == 2


async def test_the_cache_is_per_base_url(
    emulator: RunningEmulator, run_hook: Any, session: aiohttp.ClientSession
) -> None:
    await run_hook(emulator.url)
    other_base = emulator.url.replace("127.0.0.1", "localhost")
    await run_hook(other_base)
    assert len(requests(emulator, "GET")) == 2
    assert UNIQUE_IDS.cached(session, emulator.url) != UNIQUE_IDS.cached(session, other_base)


async def test_a_stale_unique_id_is_refreshed_once_and_the_completion_succeeds(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    await run_hook(emulator.url)
    emulator.app[ISSUED].clear()  # every issued id is now stale: the emulator answers 401
    pieces = await run_hook(emulator.url, "after expiry")
    assert "you said: after expiry" in "".join(pieces)
    assert len(requests(emulator, "GET")) == 2
    posts = requests(emulator, "POST")
    assert len(posts) == 3  # ok, 401 with the stale id, ok with the new one
    assert posts[1]["headers"]["UniqueId"] == posts[0]["headers"]["UniqueId"]
    assert posts[2]["headers"]["UniqueId"] != posts[1]["headers"]["UniqueId"]


async def test_the_refreshed_unique_id_is_cached_for_the_next_completion(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    await run_hook(emulator.url)
    emulator.app[ISSUED].clear()
    await run_hook(emulator.url)
    await run_hook(emulator.url)
    assert len(requests(emulator, "GET")) == 2
    posts = requests(emulator, "POST")
    assert posts[-1]["headers"]["UniqueId"] == posts[-2]["headers"]["UniqueId"]


async def test_a_401_with_a_freshly_fetched_id_is_not_retried(upstream: Any, run_hook: Any) -> None:
    upstream.rejected_ids = ["id-1"]
    with pytest.raises(AuthenticationError) as caught:
        await run_hook(upstream.url)
    assert caught.value.status == 401
    assert "UniqueId expired" in caught.value.body
    assert upstream.gets == 1
    assert len(upstream.posts) == 1


async def test_a_401_after_the_refresh_is_raised_not_retried_forever(
    upstream: Any, run_hook: Any
) -> None:
    await run_hook(upstream.url)
    upstream.rejected_ids = ["id-1"]  # getUniqueId keeps issuing the same rejected id
    with pytest.raises(AuthenticationError):
        await run_hook(upstream.url)
    assert upstream.gets == 2
    assert len(upstream.posts) == 3


async def test_base_url_replaces_the_api_base_for_both_requests(
    emulator: RunningEmulator, run_hook: Any
) -> None:
    await run_hook(emulator.url + "/")
    assert [r["path"] for r in emulator.app[REQUESTS]] == [UNIQUE_ID_PATH, CHAT_PATH]


async def test_without_base_url_the_plugin_uses_its_own_api_url(
    emulator: RunningEmulator, run_hook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chatplug_aichatonline, "API_URL", emulator.url)
    pieces = await run_hook(None)
    assert "".join(pieces) == emulator.replies[-1]


async def test_the_proxy_carries_both_requests(
    emulator: RunningEmulator, forward_proxy: Any, run_hook: Any
) -> None:
    pieces = await run_hook(emulator.url, "through the proxy", proxy=forward_proxy.url)
    assert "through the proxy" in "".join(pieces)
    assert [(r.method, r.url.split("?")[0]) for r in forward_proxy.requests] == [
        ("GET", emulator.url + UNIQUE_ID_PATH),
        ("POST", emulator.url + CHAT_PATH),
    ]
    assert forward_proxy.requests[0].url.startswith(emulator.url + UNIQUE_ID_PATH + "?canvas=-")


async def test_a_dead_proxy_fails_the_request_instead_of_going_direct(
    emulator: RunningEmulator, make_request: Callable[..., CompletionRequest]
) -> None:
    request = make_request(base_url=emulator.url, proxy="http://127.0.0.1:9")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientProxyConnectionError):
            async for _ in stream_completion(request, session):
                pass
    assert emulator.app[REQUESTS] == []


def test_without_a_system_option_the_rendered_prompt_is_sent_as_is(
    make_request: Callable[..., CompletionRequest],
) -> None:
    request = make_request("hello")
    assert prompt_of(request) == "hello"


def test_the_system_option_is_rendered_in_front_of_the_conversation(
    make_request: Callable[..., CompletionRequest],
) -> None:
    request = replace(make_request("hello"), options={"system": "Be brief.", "temperature": 0.2})
    assert prompt_of(request) == "System: Be brief.\nUser: hello\nAssistant:"


def test_a_non_string_system_option_is_an_invalid_request(
    make_request: Callable[..., CompletionRequest],
) -> None:
    with pytest.raises(InvalidRequestError):
        prompt_of(replace(make_request("hello"), options={"system": 3}))


async def test_options_other_than_system_are_not_sent(
    emulator: RunningEmulator, registry: Registry
) -> None:
    async with AsyncClient(registry=registry, base_urls={"aichatonline": emulator.url}) as client:
        reply = await client.complete(
            "hi", provider="aichatonline", system="Be brief.", temperature=0.3, stream=False
        )
    (post,) = requests(emulator, "POST")
    body = json.loads(post["body"])
    assert set(body) == {"conversationId", "prompt"}
    assert body["prompt"] == "System: Be brief.\nUser: hi\nAssistant:"
    assert reply.endswith("you said: hi (turn 1)")
