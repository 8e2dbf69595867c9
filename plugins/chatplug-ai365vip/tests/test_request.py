"""What the plugin sends: endpoint, headers, body, models, system prompt, proxy, base_url."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from chatplug import InvalidRequestError, UpstreamConnectionError
from chatplug_ai365vip.emulator import REQUESTS

USER = {"role": "user", "content": "Héllo ✓"}


def sent_body(upstream: Any) -> Dict[str, Any]:
    (sent,) = upstream.app[REQUESTS]
    return sent["body"]  # type: ignore[no-any-return]


def sent_messages(upstream: Any) -> List[Dict[str, str]]:
    return sent_body(upstream)["messages"]  # type: ignore[no-any-return]


async def test_posts_to_api_chat_with_browser_headers(emulator, client) -> None:
    upstream = await emulator()
    await client(upstream.url).complete([USER], provider="ai365vip")
    (sent,) = upstream.app[REQUESTS]
    headers = sent["headers"]
    assert (sent["method"], sent["path"]) == ("POST", "/api/chat")
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Accept"] == "*/*"
    assert headers["Origin"] == upstream.url
    assert headers["Referer"] == upstream.url + "/en"
    assert headers["User-Agent"].startswith("Mozilla/5.0")
    assert headers["Accept-Language"] and headers["Sec-Fetch-Mode"] == "cors"


async def test_body_has_the_site_fields_and_defaults(emulator, client) -> None:
    upstream = await emulator()
    await client(upstream.url).complete([USER], provider="ai365vip")
    assert sent_body(upstream) == {
        "model": {
            "id": "gpt-3.5-turbo-16k",
            "name": "GPT-3.5-16K",
            "maxLength": 3000,
            "tokenLimit": 2048,
        },
        "messages": [{"role": "user", "content": "Héllo ✓"}],
        "key": "",
        "prompt": "You are a helpful assistant.",
        "temperature": 1,
    }


@pytest.mark.parametrize("model", [None, "gpt-3.5-turbo", "ai365vip/gpt-3.5-turbo"])
async def test_gpt_35_turbo_is_sent_as_its_alias_16k(emulator, client, model) -> None:
    # The original client sent {"id": "gpt-3.5-turbo", "name": "GPT-3.5"}.
    upstream = await emulator()
    answer = await client(upstream.url).complete(
        [USER], model=model, provider=None if model else "ai365vip"
    )
    assert sent_body(upstream)["model"]["id"] == "gpt-3.5-turbo-16k"
    assert sent_body(upstream)["model"]["name"] == "GPT-3.5-16K"
    assert answer.endswith("(turn 1, GPT-3.5-16K)")


async def test_gpt_4o_is_sent_with_its_own_display_name(emulator, client) -> None:
    # The original client sent the display name "GPT-3.5" for every model.
    upstream = await emulator()
    await client(upstream.url).complete([USER], model="ai365vip/gpt-4o")
    assert sent_body(upstream)["model"] == {
        "id": "gpt-4o",
        "name": "GPT-4o",
        "maxLength": 3000,
        "tokenLimit": 2048,
    }


async def test_conversation_goes_in_as_one_rendered_user_message(emulator, client) -> None:
    upstream = await emulator()
    messages = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "thrée"},
    ]
    answer = await client(upstream.url).complete(messages, provider="ai365vip")
    assert sent_messages(upstream) == [
        {"role": "user", "content": "User: one\nAssistant: two\nUser: thrée\nAssistant:"}
    ]
    assert answer.endswith("you said: thrée (turn 2, GPT-3.5-16K)")


async def test_system_messages_go_in_the_prompt_field_not_the_conversation(
    emulator, client
) -> None:
    upstream = await emulator()
    messages = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]
    await client(upstream.url).complete(messages, provider="ai365vip")
    body = sent_body(upstream)
    assert body["prompt"] == "Answer in French."
    assert body["messages"][0]["content"] == "User: one\nAssistant: two\nUser: three\nAssistant:"


async def test_system_option_comes_before_system_messages(emulator, client) -> None:
    upstream = await emulator()
    messages = [{"role": "system", "content": "Second."}, USER]
    await client(upstream.url).complete(messages, provider="ai365vip", system="First.")
    body = sent_body(upstream)
    assert body["prompt"] == "First.\n\nSecond."
    assert body["messages"] == [{"role": "user", "content": "Héllo ✓"}]


async def test_a_conversation_of_only_system_text_is_sent_as_the_user_message(
    emulator, client
) -> None:
    upstream = await emulator()
    await client(upstream.url).complete(
        [{"role": "system", "content": "Say hi."}], provider="ai365vip"
    )
    body = sent_body(upstream)
    assert body["messages"] == [{"role": "user", "content": "Say hi."}]
    assert body["prompt"] == "You are a helpful assistant."


async def test_temperature_is_sent_and_other_options_are_not(emulator, client) -> None:
    upstream = await emulator()
    await client(upstream.url).complete(
        [USER], provider="ai365vip", temperature=0.25, stream=True, top_p=0.5
    )
    body = sent_body(upstream)
    assert body["temperature"] == 0.25
    assert set(body) == {"model", "messages", "key", "prompt", "temperature"}


@pytest.mark.parametrize("options", [{"temperature": "hot"}, {"temperature": 2.5}, {"system": 1}])
async def test_invalid_options_are_rejected_before_sending(emulator, client, options) -> None:
    upstream = await emulator()
    with pytest.raises(InvalidRequestError) as caught:
        await client(upstream.url).complete([USER], provider="ai365vip", **options)
    assert caught.value.provider == "ai365vip"
    assert upstream.app[REQUESTS] == []


async def test_per_call_base_url_with_trailing_slash_is_honoured(emulator, client) -> None:
    upstream = await emulator()
    answer = await client().complete([USER], provider="ai365vip", base_url=upstream.url + "/")
    assert upstream.app[REQUESTS][0]["path"] == "/api/chat"
    assert answer == upstream.replies[-1]


async def test_proxy_is_used_for_the_request(emulator, client, forward_proxy) -> None:
    upstream = await emulator()
    answer = await client(upstream.url, proxy=forward_proxy.url).complete(
        [USER], provider="ai365vip"
    )
    assert [(r.method, r.url) for r in forward_proxy.requests] == [
        ("POST", f"{upstream.url}/api/chat")
    ]
    assert answer == upstream.replies[-1]


async def test_default_url_is_the_ai365vip_site(client, forward_proxy) -> None:
    # Through a proxy that refuses non-loopback CONNECT: nothing leaves the machine.
    with pytest.raises(UpstreamConnectionError):
        await client(proxy=forward_proxy.url).complete([USER], provider="ai365vip")
    assert [(r.method, r.url) for r in forward_proxy.requests] == [
        ("CONNECT", "chat.ai365vip.com:443")
    ]


def test_origin_has_no_path_when_the_base_url_has_one() -> None:
    from chatplug_ai365vip import request_headers

    headers = request_headers("http://127.0.0.1:8080/mirror/ai365vip/")
    assert headers["origin"] == "http://127.0.0.1:8080"
    assert headers["referer"] == "http://127.0.0.1:8080/mirror/ai365vip/en"
