"""SOCKS5 proxies through aiohttp-socks (the ``chatplug[socks]`` extra), against a SOCKS5
server on 127.0.0.1, and the error naming the extra when it is missing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from chatplug import AsyncClient, ConfigError, Registry, UpstreamConnectionError

SECRET = "s0cks-Pa55"


def port_of(url: str) -> str:
    return url.rsplit(":", 1)[1]


async def test_socks5h_resolves_the_host_on_the_proxy(
    registry: Registry, upstreams: Any, socks5: Any, plugin: Any
) -> None:
    up = await upstreams("via-socks")
    server = await socks5(hosts={"upstream.socks.invalid": "127.0.0.1"})
    base = f"http://upstream.socks.invalid:{port_of(up.url)}"  # only the proxy knows this name
    async with AsyncClient(registry=registry, config=False, proxy=server.url("socks5h")) as c:
        assert await c.complete("hi", provider="echo", base_url=base) == "via-socks|/chat|small"
    assert server.connects == [("domain", "upstream.socks.invalid", int(port_of(up.url)))]
    assert plugin.requests[0].proxy is None  # the plugin's proxy=request.proxy stays harmless


async def test_socks5_resolves_the_host_locally(
    registry: Registry, upstreams: Any, socks5: Any, write_config: Callable[[str], Path]
) -> None:
    up = await upstreams("via-socks")
    server = await socks5()
    base = f"http://localhost:{port_of(up.url)}"
    write_config(f'[defaults]\nproxy = "{server.url("socks5")}"\n')
    async with AsyncClient(registry=registry) as client:
        assert (
            await client.complete("hi", provider="echo", base_url=base) == "via-socks|/chat|small"
        )
    kind, host, _ = server.connects[0]
    assert kind in ("ipv4", "ipv6") and host in ("127.0.0.1", "::1")


async def test_socks5_with_username_and_password_from_the_file(
    registry: Registry, upstreams: Any, socks5: Any, write_config: Callable[[str], Path]
) -> None:
    up = await upstreams("authed")
    server = await socks5(username="alice", password=SECRET)
    write_config(
        "[providers.echo]\n"
        f'base_url = "{up.url}"\n'
        f'proxy = "{server.url("socks5h", "alice:" + SECRET)}"\n'
    )
    async with AsyncClient(registry=registry) as client:
        assert await client.complete("hi", provider="echo") == "authed|/chat|small"
        assert await client.complete("again", provider="echo") == "authed|/chat|small"
        assert len(client._socks_sessions) == 1  # one pooled session per proxy
        session = next(iter(client._socks_sessions.values()))
    assert session.closed  # closed with the client
    assert len(server.connects) >= 1 and server.auth_failures == 0


async def test_chatplug_proxy_socks_beats_the_file(
    registry: Registry,
    upstreams: Any,
    socks5: Any,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    up = await upstreams("env-socks")
    server = await socks5(hosts={"up.invalid": "127.0.0.1"})
    write_config('[defaults]\nproxy = "socks5h://127.0.0.1:9"\n')  # would fail if used
    monkeypatch.setenv("CHATPLUG_PROXY", server.url("socks5h"))
    base = f"http://up.invalid:{port_of(up.url)}"
    async with AsyncClient(registry=registry) as client:
        assert (
            await client.complete("hi", provider="echo", base_url=base) == "env-socks|/chat|small"
        )


async def test_a_wrong_socks_password_is_an_error_without_the_password(
    registry: Registry, upstreams: Any, socks5: Any
) -> None:
    up = await upstreams("never")
    server = await socks5(username="alice", password="right")
    proxy = server.url("socks5", "alice:" + SECRET)
    async with AsyncClient(registry=registry, config=False, proxy=proxy, retry=1) as client:
        with pytest.raises(UpstreamConnectionError) as caught:
            await client.complete("hi", provider="echo", base_url=up.url)
    assert "SOCKS proxy" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET not in (caught.value.hint or "")
    assert server.auth_failures == 1 and not up.requests


async def test_an_unreachable_socks_proxy_is_a_connection_error(
    registry: Registry, upstreams: Any
) -> None:
    up = await upstreams("never")
    proxy = f"socks5h://bob:{SECRET}@127.0.0.1:9"
    async with AsyncClient(registry=registry, config=False, proxy=proxy, retry=1) as client:
        with pytest.raises(UpstreamConnectionError) as caught:
            await client.complete("hi", provider="echo", base_url=up.url)
    assert SECRET not in str(caught.value)


@pytest.fixture
def without_aiohttp_socks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import aiohttp_socks`` fail, as when the extra is not installed."""
    monkeypatch.setitem(sys.modules, "aiohttp_socks", None)


@pytest.mark.usefixtures("without_aiohttp_socks")
async def test_without_the_extra_a_socks_argument_names_the_extra(registry: Registry) -> None:
    async with AsyncClient(registry=registry, config=False) as client:
        with pytest.raises(ConfigError) as caught:
            client.stream("hi", provider="echo", proxy=f"socks5h://bob:{SECRET}@127.0.0.1:1080")
    error = caught.value
    assert "aiohttp-socks" in str(error)
    assert "pip install 'chatplug[socks]'" in (error.hint or "")
    assert SECRET not in str(error) and "socks5h://***@127.0.0.1:1080" in str(error)


@pytest.mark.usefixtures("without_aiohttp_socks")
async def test_without_the_extra_a_socks_proxy_in_the_file_names_the_extra(
    registry: Registry, write_config: Callable[[str], Path], plugin: Any
) -> None:
    write_config('[providers.echo]\nproxy = "socks5://127.0.0.1:1080"\n')
    async with AsyncClient(registry=registry) as client:  # the file itself is valid
        with pytest.raises(ConfigError, match="aiohttp-socks") as caught:
            client.stream("hi", provider="echo")
    assert "chatplug[socks]" in (caught.value.hint or "")
    assert not plugin.requests


@pytest.mark.usefixtures("without_aiohttp_socks")
async def test_without_the_extra_http_proxies_still_work(
    registry: Registry, http_proxy: Any
) -> None:
    async with AsyncClient(registry=registry, config=False, proxy=http_proxy.url) as client:
        text = await client.complete("hi", provider="echo", base_url="http://up.invalid")
    assert text == "proxy|/chat|small"


async def test_a_socks_proxy_without_a_port_is_a_config_error(registry: Registry) -> None:
    async with AsyncClient(registry=registry, config=False) as client:
        with pytest.raises(ConfigError, match="needs a port"):
            client.stream("hi", provider="echo", proxy="socks5://127.0.0.1")
