"""What the plugin sends: endpoint, headers, body, options, system messages, proxy, base_url."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from chatplug import InvalidRequestError, UpstreamConnectionError
from chatplug_vitalentum import build_history
from chatplug_vitalentum.emulator import REQUESTS

USER = {"role": "user", "content": "Héllo ✓"}


def history(sent: Dict[str, Any]) -> List[Dict[str, str]]:
    conversation = sent["body"]["conversation"]
    assert isinstance(conversation, str)  # a JSON *string*, not an object
    return json.loads(conversation)["history"]  # type: ignore[no-any-return]


async def test_posts_to_converse_edge_with_sse_and_browser_headers(emulator, client) -> None:
    upstream = await emulator()
    await client(upstream.url).complete([USER], provider="vitalentum")
    (sent,) = upstream.app[REQUESTS]
    headers = sent["headers"]
    assert (sent["method"], sent["path"]) == ("POST", "/api/converse-edge")
    assert headers["Accept"] == "text/event-stream"
    assert headers["Origin"] == upstream.url
    assert headers["Referer"] == upstream.url + "/"
    assert headers["Content-Type"].startswith("application/json")
    assert headers["User-Agent"].startswith("Mozilla/5.0")
    assert headers["Accept-Language"] and headers["Sec-Fetch-Mode"] == "cors"


async def test_body_encodes_history_as_a_json_string_with_default_temperature(
    emulator, client
) -> None:
    upstream = await emulator()
    await client(upstream.url).complete([USER], provider="vitalentum")
    (sent,) = upstream.app[REQUESTS]
    assert set(sent["body"]) == {"conversation", "temperature"}
    assert sent["body"]["temperature"] == 0.7
    assert history(sent) == [{"speaker": "human", "text": "Héllo ✓"}]


async def test_user_maps_to_human_and_assistant_to_bot(emulator, client) -> None:
    upstream = await emulator()
    messages = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]
    answer = await client(upstream.url).complete(messages, provider="vitalentum")
    assert history(upstream.app[REQUESTS][0]) == [
        {"speaker": "human", "text": "one"},
        {"speaker": "bot", "text": "two"},
        {"speaker": "human", "text": "three"},
    ]
    assert answer.endswith("you said: three (turn 2)")


async def test_system_message_is_prefixed_to_the_next_human_turn_not_sent_as_bot(
    emulator, client
) -> None:
    # The original client sent {"speaker": "bot", "text": "Answer in French."}.
    upstream = await emulator()
    messages = [{"role": "system", "content": "Answer in French."}, USER]
    await client(upstream.url).complete(messages, provider="vitalentum")
    assert history(upstream.app[REQUESTS][0]) == [
        {"speaker": "human", "text": "Answer in French.\n\nHéllo ✓"}
    ]


async def test_system_option_comes_before_system_messages(emulator, client) -> None:
    upstream = await emulator()
    messages = [{"role": "system", "content": "Second."}, USER]
    await client(upstream.url).complete(messages, provider="vitalentum", system="First.")
    assert history(upstream.app[REQUESTS][0]) == [
        {"speaker": "human", "text": "First.\n\nSecond.\n\nHéllo ✓"}
    ]


def test_system_message_after_the_last_human_turn_becomes_a_human_turn() -> None:
    messages = [
        USER,
        {"role": "assistant", "content": "Hi"},
        {"role": "system", "content": "Be brief."},
    ]
    assert build_history(messages) == [
        {"speaker": "human", "text": "Héllo ✓"},
        {"speaker": "bot", "text": "Hi"},
        {"speaker": "human", "text": "Be brief."},
    ]


def test_a_mid_conversation_system_message_goes_to_the_following_human_turn() -> None:
    messages = [
        USER,
        {"role": "system", "content": "Now in French."},
        {"role": "user", "content": "Bye"},
    ]
    assert build_history(messages)[-1] == {"speaker": "human", "text": "Now in French.\n\nBye"}


async def test_temperature_and_allowed_options_are_sent(emulator, client) -> None:
    upstream = await emulator()
    await client(upstream.url).complete(
        [USER], provider="vitalentum", temperature=0.2, top_p=0.9, max_tokens=50
    )
    body = upstream.app[REQUESTS][0]["body"]
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.9, 50)


async def test_unknown_options_are_not_leaked_into_the_body(emulator, client) -> None:
    # The original client spread every keyword (even ``stream``) into the body.
    upstream = await emulator()
    answer = await client(upstream.url).complete(
        [USER], provider="vitalentum", stream=True, model_name="x", api_key="secret"
    )
    assert set(upstream.app[REQUESTS][0]["body"]) == {"conversation", "temperature"}
    assert answer == upstream.replies[-1]


@pytest.mark.parametrize(
    "options",
    [
        {"temperature": "hot"},
        {"temperature": 3},
        {"top_p": True},
        {"max_tokens": 1.5},
        {"system": 5},
    ],
)
async def test_invalid_options_are_rejected_before_sending(emulator, client, options) -> None:
    upstream = await emulator()
    with pytest.raises(InvalidRequestError) as caught:
        await client(upstream.url).complete([USER], provider="vitalentum", **options)
    assert caught.value.provider == "vitalentum"
    assert upstream.app[REQUESTS] == []


async def test_per_call_base_url_with_trailing_slash_is_honoured(emulator, client) -> None:
    upstream = await emulator()
    answer = await client().complete([USER], provider="vitalentum", base_url=upstream.url + "/")
    assert upstream.app[REQUESTS][0]["path"] == "/api/converse-edge"
    assert answer == upstream.replies[-1]


async def test_proxy_is_used_for_the_request(emulator, client, forward_proxy) -> None:
    upstream = await emulator()
    answer = await client(upstream.url, proxy=forward_proxy.url).complete(
        [USER], provider="vitalentum"
    )
    assert [(r.method, r.url) for r in forward_proxy.requests] == [
        ("POST", f"{upstream.url}/api/converse-edge")
    ]
    assert answer == upstream.replies[-1]


async def test_default_url_is_the_vitalentum_site(client, forward_proxy) -> None:
    # Through a proxy that refuses CONNECT: the target is visible, nothing leaves the machine.
    with pytest.raises(UpstreamConnectionError):
        await client(proxy=forward_proxy.url).complete([USER], provider="vitalentum")
    assert [(r.method, r.url) for r in forward_proxy.requests] == [
        ("CONNECT", "app.vitalentum.io:443")
    ]


def test_origin_has_no_path_when_the_base_url_has_one() -> None:
    from chatplug_vitalentum import request_headers

    headers = request_headers("http://127.0.0.1:8080/mirror/vitalentum/")
    assert headers["origin"] == "http://127.0.0.1:8080"
    assert headers["referer"] == "http://127.0.0.1:8080/mirror/vitalentum/"
    assert headers["accept"] == "text/event-stream"
