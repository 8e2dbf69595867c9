"""The fixtures of the chatplug pytest plugin (registered through the pytest11 entry point)."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Callable, List

import aiohttp
import pytest
from aiohttp import web
from chatplug import CompletionRequest, ModelInfo, UpstreamConnectionError, hookimpl, open_stream
from chatplug.decoders import iter_text
from chatplug.emulation import record_reply
from chatplug.testing import ForwardProxy, Reply, ScriptedUpstream

PROVIDER = "echo-kit"


class EchoPlugin:
    """A tiny in-process plugin: POST /echo, the plain-text body is the answer."""

    @staticmethod
    @hookimpl
    def list_models() -> List[ModelInfo]:
        return [ModelInfo("echo", PROVIDER, default=True)]

    @staticmethod
    @hookimpl
    async def stream_completion(
        request: CompletionRequest, session: aiohttp.ClientSession
    ) -> AsyncIterator[str]:
        url = request.url("http://127.0.0.1:9", "/echo")
        async with open_stream(session, request, "POST", url, json={"q": request.prompt}) as resp:
            async for text in iter_text(resp):
                yield text


def echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        text = "echo ✓ " + json.loads(await request.read())["q"]
        record_reply(request, text)
        return web.Response(text=text)

    app = web.Application()
    app.router.add_post("/echo", echo)
    return app


def test_the_plugin_module_is_registered_with_pytest(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.hasplugin("chatplug")


def test_sync_client_and_emulator_fixtures(
    chatplug_sync_client: Callable[..., Any], chatplug_emulator: Callable[..., Any]
) -> None:
    emulator = chatplug_emulator(echo_app)
    client = chatplug_sync_client(PROVIDER, EchoPlugin, base_urls={PROVIDER: emulator.url})
    assert client.complete("hi") == "echo ✓ hi" == emulator.replies[-1]
    assert [m.id for m in client.models()] == ["echo"]


async def test_async_client_fixture_with_scripted_upstream(
    chatplug_client: Callable[..., Any], scripted_upstream: Callable[..., ScriptedUpstream]
) -> None:
    upstream = scripted_upstream(Reply.text("héllo", sizes=[1]))
    async with chatplug_client(PROVIDER, EchoPlugin) as client:
        assert await client.complete("x", base_url=upstream.url) == "héllo"
    assert upstream.requests[0].json() == {"q": "x"}


def test_forward_proxy_fixture_carries_the_client(
    forward_proxy: ForwardProxy,
    chatplug_sync_client: Callable[..., Any],
    chatplug_emulator: Callable[..., Any],
) -> None:
    emulator = chatplug_emulator(echo_app)
    client = chatplug_sync_client(PROVIDER, EchoPlugin, proxy=forward_proxy.url)
    assert client.complete("p", base_url=emulator.url) == "echo ✓ p"
    assert forward_proxy.urls() == [emulator.url + "/echo"]


def test_the_kit_client_sees_only_its_provider(chatplug_sync_client: Callable[..., Any]) -> None:
    client = chatplug_sync_client(PROVIDER, EchoPlugin)
    assert [info.name for info in client.providers()] == [PROVIDER]


def test_scripted_upstreams_stop_after_the_test(
    scripted_upstream: Callable[..., ScriptedUpstream],
) -> None:
    first = scripted_upstream(Reply.text("a"))
    second = scripted_upstream(Reply.text("b"))
    assert first.url != second.url


def test_a_proxy_refusing_the_tunnel_is_a_connection_error(
    forward_proxy: ForwardProxy, chatplug_sync_client: Callable[..., Any]
) -> None:
    # The kit's proxy only reaches loopback: the CONNECT is refused, nothing leaves the machine.
    client = chatplug_sync_client(PROVIDER, EchoPlugin, proxy=forward_proxy.url, retry=1)
    with pytest.raises(UpstreamConnectionError, match="the proxy refused the connection: HTTP 403"):
        client.complete("x", base_url="https://upstream.example.invalid")
    assert forward_proxy.urls() == ["upstream.example.invalid:443"]
