"""AsyncClient and Client read chatplug.toml: base URLs, options, defaults, virtual providers
and HTTP proxies, each level of precedence beating the next, against local upstreams."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
from aiohttp import web
from chatplug import (
    AsyncClient,
    Client,
    ConfigError,
    PluginError,
    ProviderNotFoundError,
    Registry,
    UpstreamConnectionError,
    UpstreamTimeoutError,
    hookimpl,
)
from chatplug.registry import default_registry

SECRET = "pr0xy-Pa55"


async def test_the_file_sets_a_providers_base_url(
    registry: Registry, upstreams: Any, write_config: Callable[[str], Path]
) -> None:
    file = await upstreams("file")
    write_config(f'[providers.echo]\nbase_url = "{file.url}/v1"\n')
    async with AsyncClient(registry=registry) as client:
        assert await client.complete("hi", provider="echo") == "file|/v1/chat|small"


async def test_the_environment_beats_the_file(
    registry: Registry,
    upstreams: Any,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file, env = await upstreams("file"), await upstreams("env")
    write_config(f'[providers.echo]\nbase_url = "{file.url}"\n')
    monkeypatch.setenv("CHATPLUG_ECHO_BASE_URL", env.url)
    async with AsyncClient(registry=registry) as client:
        assert await client.complete("hi", provider="echo") == "env|/chat|small"
    assert not file.requests


async def test_a_client_argument_beats_the_environment(
    registry: Registry, upstreams: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, arg = await upstreams("env"), await upstreams("arg")
    monkeypatch.setenv("CHATPLUG_ECHO_BASE_URL", env.url)
    async with AsyncClient(registry=registry, base_urls={"echo": arg.url}) as client:
        assert await client.complete("hi", provider="echo") == "arg|/chat|small"


async def test_a_call_argument_beats_everything(
    registry: Registry,
    upstreams: Any,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file, env, call = await upstreams("file"), await upstreams("env"), await upstreams("call")
    write_config(f'[providers.echo]\nbase_url = "{file.url}"\n')
    monkeypatch.setenv("CHATPLUG_ECHO_BASE_URL", env.url)
    async with AsyncClient(registry=registry) as client:
        text = await client.complete("hi", provider="echo", base_url=call.url)
    assert text == "call|/chat|small"


async def test_config_false_ignores_the_file(
    registry: Registry, upstreams: Any, write_config: Callable[[str], Path], plugin: Any
) -> None:
    file = await upstreams("file")
    write_config(f'[providers.echo]\nbase_url = "{file.url}"\n')
    async with AsyncClient(registry=registry, config=False) as client:
        assert client.config.empty
        with pytest.raises(UpstreamConnectionError):
            await client.complete("hi", provider="echo", retry=1)
    assert not file.requests
    assert plugin.requests[0].base_url is None  # the plugin used its own default


async def test_an_explicit_config_mapping(registry: Registry, upstreams: Any) -> None:
    up = await upstreams("mapping")
    config = {"providers": {"echo": {"base_url": up.url}}}
    async with AsyncClient(registry=registry, config=config) as client:
        assert await client.complete("hi", provider="echo") == "mapping|/chat|small"


async def test_file_options_are_defaults_that_call_options_override(
    registry: Registry, upstreams: Any, write_config: Callable[[str], Path]
) -> None:
    up = await upstreams("u")
    write_config(
        f'[providers.echo]\nbase_url = "{up.url}"\n'
        "options = {temperature = 0.2, max_tokens = 50}\n"
    )
    async with AsyncClient(registry=registry) as client:
        await client.complete("hi", provider="echo", temperature=0.9)
    assert up.requests[0]["body"]["options"] == {"temperature": 0.9, "max_tokens": 50}


async def test_the_default_model_comes_from_the_file(
    registry: Registry, upstreams: Any, write_config: Callable[[str], Path]
) -> None:
    up = await upstreams("u")
    write_config(f'[defaults]\nmodel = "echo/large"\n[providers.echo]\nbase_url = "{up.url}"\n')
    async with AsyncClient(registry=registry) as client:
        assert await client.complete("hi") == "u|/chat|large"
        assert await client.complete("hi", model="small") == "u|/chat|small"  # argument wins


async def test_the_fallback_order_comes_from_the_file(
    upstreams: Any, write_config: Callable[[str], Path], make_plugin: Any
) -> None:
    good = await upstreams("second")
    registry = Registry(discover=False, enabled=None)
    first, second = make_plugin("first"), make_plugin("second")
    registry.register("first", first)
    registry.register("second", second)
    write_config(
        '[defaults]\nproviders = ["first", "second"]\nretries = 0\n'
        '[providers.first]\nbase_url = "http://127.0.0.1:9"\n'
        f'[providers.second]\nbase_url = "{good.url}"\n'
    )
    async with AsyncClient(registry=registry) as client:
        stream = client.stream("hi", model="small")
        text = "".join([piece async for piece in stream])
    assert text == "second|/chat|small"
    assert stream.attempts == [("first", "small"), ("second", "small")]  # one attempt each


async def test_a_first_byte_timeout_from_the_file(
    registry: Registry, write_config: Callable[[str], Path]
) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(release.wait(), 30)
        return response

    app = web.Application()
    app.router.add_post("/chat", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    write_config(
        f'[defaults]\nretries = 0\n[providers.echo]\nbase_url = "{url}"\n'
        "timeout = {first_byte = 0.5}\n"
    )
    try:
        async with AsyncClient(registry=registry) as client:
            with pytest.raises(UpstreamTimeoutError) as caught:
                await client.complete("hi", provider="echo")
        assert caught.value.phase == "first_byte" and caught.value.seconds == 0.5
    finally:
        release.set()
        await runner.cleanup()


async def test_a_virtual_provider_is_served_by_the_plugins_hooks(
    registry: Registry, upstreams: Any, write_config: Callable[[str], Path], plugin: Any
) -> None:
    up = await upstreams("local")
    write_config(
        "[providers.local-llm]\n"
        'plugin = "echo"\n'
        f'base_url = "{up.url}/v1"\n'
        'models = ["llama3", "qwen2"]\n'
        'api_key_env = "LOCAL_LLM_KEY"\n'
    )
    async with AsyncClient(registry=registry) as client:
        assert {m.qualified_id for m in client.models("local-llm")} == {
            "local-llm/llama3",
            "local-llm/qwen2",
        }
        assert await client.complete("hi", provider="local-llm") == "local|/v1/chat|llama3"
        assert await client.complete("hi", model="local-llm/qwen2") == "local|/v1/chat|qwen2"
        assert "local-llm" in {info.name for info in client.providers()}
    request = plugin.requests[0]
    assert request.provider == "local-llm"
    assert request.base_url == f"{up.url}/v1"
    assert dict(request.settings) == {"api_key_env": "LOCAL_LLM_KEY"}


async def test_virtual_providers_leave_the_default_registry_alone(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, make_plugin: Any
) -> None:
    monkeypatch.setenv("CHATPLUG_PLUGINS", "none-installed")
    before = {info.name for info in default_registry().plugins()}
    fake = Registry(discover=False, enabled=None)
    fake.register("echo", make_plugin("echo"))
    write_config('[providers.mine]\nplugin = "echo"\nmodels = ["m"]\n')
    client = AsyncClient(registry=fake)
    assert "mine" in client.registry.names()
    assert {info.name for info in default_registry().plugins()} == before
    await client.aclose()


async def test_plugin_settings_from_the_file_reach_the_request(
    registry: Registry, upstreams: Any, write_config: Callable[[str], Path], plugin: Any
) -> None:
    up = await upstreams("u")
    write_config(f'[providers.echo]\nbase_url = "{up.url}"\ngreeting = "hello"\n')
    async with AsyncClient(registry=registry) as client:
        await client.complete("hi", provider="echo")
    assert dict(plugin.requests[0].settings) == {"greeting": "hello"}


async def test_a_wrongly_typed_plugin_setting_fails_before_any_request(
    registry: Registry, upstreams: Any, write_config: Callable[[str], Path]
) -> None:
    up = await upstreams("u")
    write_config(f'[providers.echo]\nbase_url = "{up.url}"\ngreeting = 3\n')
    async with AsyncClient(registry=registry) as client:
        with pytest.raises(ConfigError, match=r"\[providers.echo\]: greeting must be a string"):
            client.stream("hi", provider="echo")
    assert not up.requests


async def test_enabled_false_leaves_a_provider_out(
    registry: Registry, write_config: Callable[[str], Path]
) -> None:
    write_config("[providers.echo]\nenabled = false\n")
    async with AsyncClient(registry=registry) as client:
        with pytest.raises(ProviderNotFoundError):
            client.stream("hi", provider="echo")


async def test_an_unknown_provider_in_the_file_fails_when_the_client_is_created(
    registry: Registry, write_config: Callable[[str], Path]
) -> None:
    path = write_config('[providers.ech0]\nbase_url = "http://127.0.0.1:1"\n')
    with pytest.raises(ConfigError) as caught:
        AsyncClient(registry=registry)
    assert f"{path}: [providers.ech0]: unknown provider 'ech0'" in str(caught.value)


async def test_an_unknown_key_warns_and_the_client_still_works(
    registry: Registry, upstreams: Any, write_config: Callable[[str], Path]
) -> None:
    up = await upstreams("u")
    path = write_config(f'[defaults]\ncolor = "red"\n[providers.echo]\nbase_url = "{up.url}"\n')
    with pytest.warns(UserWarning, match=rf"{path}: unknown key 'color' in \[defaults\]"):
        client = AsyncClient(registry=registry)
    async with client:
        assert await client.complete("hi", provider="echo") == "u|/chat|small"


def test_the_sync_client_reads_the_file(
    registry: Registry, write_config: Callable[[str], Path]
) -> None:
    from chatplug.emulation import EmulatorThread

    app = web.Application()

    async def chat(request: web.Request) -> web.Response:
        return web.Response(text="sync|" + request.path)

    app.router.add_post("/chat", chat)
    with EmulatorThread(app) as emulator:
        write_config(f'[providers.echo]\nbase_url = "{emulator.url}"\n')
        with Client(registry=registry) as client:
            assert client.complete("hi", provider="echo") == "sync|/chat"


# HTTP proxies -----------------------------------------------------------------------------


async def test_the_files_http_proxy_is_used(
    registry: Registry, http_proxy: Any, write_config: Callable[[str], Path]
) -> None:
    write_config(
        f'[providers.echo]\nbase_url = "http://upstream.invalid:8080"\nproxy = "{http_proxy.url}"\n'
    )
    async with AsyncClient(registry=registry) as client:
        assert await client.complete("hi", provider="echo") == "proxy|/chat|small"
    assert http_proxy.requests[0]["url"] == "http://upstream.invalid:8080/chat"


async def test_chatplug_proxy_beats_the_files_proxy(
    registry: Registry,
    http_proxy: Any,
    upstreams: Any,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoy = await upstreams("decoy-proxy")
    write_config(
        f'[providers.echo]\nbase_url = "http://upstream.invalid:8080"\nproxy = "{decoy.url}"\n'
    )
    monkeypatch.setenv("CHATPLUG_PROXY", http_proxy.url)
    async with AsyncClient(registry=registry) as client:
        assert await client.complete("hi", provider="echo") == "proxy|/chat|small"
    assert not decoy.requests


async def test_https_proxy_from_the_environment_is_used(
    registry: Registry, http_proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", http_proxy.url)
    async with AsyncClient(registry=registry, base_urls={"echo": "http://up.invalid"}) as c:
        assert await c.complete("hi", provider="echo") == "proxy|/chat|small"


async def test_environment_proxies_never_apply_to_loopback_upstreams(
    registry: Registry, http_proxy: Any, upstreams: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = await upstreams("direct")
    for name in ("CHATPLUG_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, http_proxy.url)
    async with AsyncClient(registry=registry, base_urls={"echo": up.url}) as client:
        assert await client.complete("hi", provider="echo") == "direct|/chat|small"
    assert not http_proxy.requests


async def test_no_proxy_exempts_a_host_from_the_environment_proxy(
    registry: Registry, upstreams: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = await upstreams("direct")
    url = up.url.replace("127.0.0.1", "127.0.0.1.nip.invalid")  # not loopback by name
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would fail if used
    monkeypatch.setenv("NO_PROXY", "localhost,.nip.invalid")
    async with AsyncClient(registry=registry, config=False) as client:
        route = client.config.route("echo", base_url=url)
    assert route.proxy is None


async def test_proxy_credentials_are_sent_to_the_proxy(registry: Registry, http_proxy: Any) -> None:
    proxy = http_proxy.url.replace("http://", f"http://alice:{SECRET}@")
    async with AsyncClient(registry=registry, proxy=proxy, config=False) as client:
        await client.complete("hi", provider="echo", base_url="http://upstream.invalid")
    sent = http_proxy.requests[0]["headers"]["Proxy-Authorization"]
    assert base64.b64decode(sent.split()[1]).decode() == f"alice:{SECRET}"


async def test_proxy_credentials_never_appear_in_errors(
    registry: Registry, write_config: Callable[[str], Path]
) -> None:
    write_config(
        f'[defaults]\nretries = 0\nproxy = "http://alice:{SECRET}@127.0.0.1:9"\n'
        '[providers.echo]\nbase_url = "http://upstream.invalid"\n'
    )
    async with AsyncClient(registry=registry) as client:
        with pytest.raises(UpstreamConnectionError) as caught:
            await client.complete("hi", provider="echo")
    error = caught.value
    assert SECRET not in str(error) and SECRET not in repr(error) and SECRET not in error.hint


async def test_a_plugin_error_quoting_the_proxy_url_is_masked(
    registry: Registry, make_plugin: Any
) -> None:
    class Leaky(make_plugin):  # type: ignore[misc]
        @hookimpl
        async def stream_completion(self, request: Any, session: Any) -> AsyncIterator[str]:
            raise RuntimeError(f"cannot reach {request.base_url} through {request.proxy}")
            yield ""  # pragma: no cover

    registry.register("leaky", Leaky("leaky"))
    proxy = f"http://alice:{SECRET}@127.0.0.1:9"
    async with AsyncClient(registry=registry, config=False, proxy=proxy) as client:
        with pytest.raises(PluginError) as caught:
            await client.complete("hi", provider="leaky", base_url="http://up.invalid")
    assert "through http://***@127.0.0.1:9" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.args)
