"""AsyncClient and Client against a plugin installed through a real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import AsyncIterator

import pytest
from chatplug import (
    AsyncClient,
    Client,
    InvalidRequestError,
    ModelNotFoundError,
    Registry,
    RetryPolicy,
)
from chatplug.emulation import run_emulator
from chatplug.testing import Reply, ScriptedUpstream

from .conftest import Install, echo_plugin
from .upstream import echo, expected

HOOKS = ("list_models", "stream_completion")


@pytest.fixture
async def upstream() -> AsyncIterator[ScriptedUpstream]:
    async with ScriptedUpstream(handler=echo()) as server:
        yield server


async def test_async_client_streams_text_through_an_installed_plugin(
    acme: Registry, upstream: ScriptedUpstream
) -> None:
    async with AsyncClient(registry=acme, base_urls={"acme": upstream.url}) as client:
        pieces = [piece async for piece in client.stream("Hi ✓")]
    assert "".join(pieces) == expected("Hi ✓")
    assert len(pieces) > 1


async def test_stream_reports_the_provider_and_model_answering(
    acme: Registry, upstream: ScriptedUpstream
) -> None:
    async with AsyncClient(registry=acme, base_urls={"acme": upstream.url}) as client:
        async with client.stream("Hi", model="acme/big") as stream:
            text = "".join([piece async for piece in stream])
    assert (stream.provider, stream.model, stream.text_length) == ("acme", "large", len(text))


async def test_the_plugin_receives_model_prompt_and_options(
    acme: Registry, upstream: ScriptedUpstream
) -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    async with AsyncClient(registry=acme, base_urls={"acme": upstream.url}) as client:
        await client.complete(messages, model="big", temperature=0.2, system="Be brief.")
    body = upstream.requests[0].json()
    assert body["model"] == "large"
    assert body["prompt"] == "User: a\nAssistant: b\nUser: c\nAssistant:"
    assert body["options"] == {"temperature": 0.2, "system": "Be brief."}


async def test_a_per_call_base_url_overrides_the_client_one(
    acme: Registry, upstream: ScriptedUpstream
) -> None:
    async with AsyncClient(
        registry=acme, base_urls={"acme": "http://127.0.0.1:9"}, retry=1
    ) as client:
        text = await client.complete("x", base_url=upstream.url)
    assert text == expected("x")
    assert len(upstream.requests) == 1


async def test_one_pooled_session_reuses_the_connection(
    acme: Registry, upstream: ScriptedUpstream
) -> None:
    async with AsyncClient(registry=acme, base_urls={"acme": upstream.url}) as client:
        await client.complete("one")
        await client.complete("two")
    peers = [request.connection.peer for request in upstream.requests]
    assert len(peers) == 2
    assert peers[0] == peers[1]


async def test_invalid_messages_fail_before_any_request(
    acme: Registry, upstream: ScriptedUpstream
) -> None:
    async with AsyncClient(registry=acme, base_urls={"acme": upstream.url}) as client:
        with pytest.raises(InvalidRequestError):
            client.stream([{"role": "user", "content": None}])
        with pytest.raises(ModelNotFoundError):
            client.stream("x", model="acme/nope")
    assert upstream.requests == []


async def test_breaking_out_early_closes_the_upstream_response(acme: Registry) -> None:
    async with ScriptedUpstream(handler=echo(["tick "] * 2000, delay=0.001)) as running:
        async with AsyncClient(registry=acme, base_urls={"acme": running.url}) as client:
            async with client.stream("x") as stream:
                async for _ in stream:
                    break
            connector = client.session.connector
            assert connector is not None
            assert await running.wait_client_closed(5)
            assert not connector._acquired  # type: ignore[attr-defined]


async def test_the_proxy_is_passed_to_the_plugin_request(
    acme: Registry, upstream: ScriptedUpstream
) -> None:
    from aiohttp import web

    seen = []

    async def proxy(request: web.Request) -> web.StreamResponse:
        seen.append(str(request.url))
        import aiohttp

        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                str(request.url),
                data=await request.read(),
                headers={"Content-Type": "application/json"},
            ) as answer,
        ):
            response = web.StreamResponse(status=answer.status)
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    async with run_emulator(app) as proxy_server:
        async with AsyncClient(registry=acme, base_urls={"acme": upstream.url}) as client:
            text = await client.complete("via proxy", proxy=proxy_server.url)
    assert text == expected("via proxy")
    assert seen == [upstream.url + "/chat"]


def test_import_chatplug_imports_neither_aiohttp_nor_plugins() -> None:
    code = (
        "import sys, json, chatplug\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'chatplug_vitalentum', "
        "'chatplug_ai365vip', 'chatplug_aichatonline', 'chatplug_openai')]\n"
        "print(json.dumps(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_creating_a_client_session_loads_aiohttp() -> None:
    code = (
        "import sys, asyncio, chatplug\n"
        "async def main():\n"
        "    async with chatplug.AsyncClient(registry=chatplug.Registry(discover=False)):\n"
        "        print('aiohttp' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_an_upstream_http_error_is_typed_with_status_and_body(acme: Registry) -> None:
    from chatplug import UpstreamHTTPError

    with (
        ScriptedUpstream(Reply.json({"error": "model overloaded"}, status=400)) as running,
        Client(registry=acme, base_urls={"acme": running.url}) as client,
    ):
        with pytest.raises(UpstreamHTTPError) as caught:
            client.complete("x")
    error = caught.value
    assert (error.status, error.provider) == (400, "acme")
    assert "model overloaded" in str(error)
    assert error.hint


def test_resolve_names_who_would_serve_without_any_request(acme: Registry) -> None:
    client = AsyncClient(registry=acme, config=False)
    [resolved] = client.resolve("acme/big")
    assert (resolved.provider, resolved.model.id, resolved.info.name) == ("acme", "large", "acme")
    assert resolved.info.plugin is None


def test_resolve_follows_the_fallback_order_for_a_bare_model_id() -> None:
    registry = Registry(discover=False)
    for name in ("beta", "alpha"):
        namespace: dict = {}
        exec(echo_plugin(name), namespace)
        registry.register(name, type(name, (), {k: staticmethod(namespace[k]) for k in HOOKS}))
    client = AsyncClient(registry=registry, providers=["beta", "alpha"], config=False)
    assert [item.provider for item in client.resolve("small")] == ["beta", "alpha"]


def test_resolve_names_the_plugin_serving_a_configured_provider(install_plugin: Install) -> None:
    install_plugin("acme", echo_plugin("acme"))
    config = {"providers": {"mirror": {"plugin": "acme", "models": ["m7"]}}}
    client = AsyncClient(registry=Registry(enabled=["acme", "mirror"]), config=config)
    [resolved] = client.resolve(provider="mirror")
    assert (resolved.provider, resolved.model.id, resolved.info.plugin) == ("mirror", "m7", "acme")


def test_resolve_raises_the_typed_error_stream_would(acme: Registry) -> None:
    with pytest.raises(ModelNotFoundError):
        AsyncClient(registry=acme, config=False).resolve("acme/nope")


def test_retry_default_applies_when_nothing_configures_a_retry() -> None:
    client = AsyncClient(registry=Registry(discover=False), config=False, retry_default=7)
    assert client.retry == RetryPolicy(attempts=7)


def test_the_configured_retry_beats_retry_default() -> None:
    config = {"defaults": {"retry": {"attempts": 5}}}
    client = AsyncClient(registry=Registry(discover=False), config=config, retry_default=7)
    assert client.retry.attempts == 5


def test_an_explicit_retry_beats_retry_default() -> None:
    client = AsyncClient(registry=Registry(discover=False), config=False, retry=2, retry_default=7)
    assert client.retry == RetryPolicy(attempts=2)
