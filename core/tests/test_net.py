"""Network rules: loopback hosts, proxies from the environment, NO_PROXY (chatplug.net)."""

from __future__ import annotations

import pytest
from chatplug.net import bypassed, env_proxy, is_loopback


def test_http_urls_use_http_proxy_and_https_urls_https_proxy() -> None:
    env = {"HTTP_PROXY": "http://plain:1", "HTTPS_PROXY": "http://tls:1"}
    assert env_proxy("http://api.example/v1", env) == ("http://plain:1", "HTTP_PROXY")
    assert env_proxy("https://api.example/v1", env) == ("http://tls:1", "HTTPS_PROXY")
    assert env_proxy(None, env) == ("http://tls:1", "HTTPS_PROXY")  # plugin defaults: https


def test_lower_case_proxy_variables_win_and_all_proxy_is_the_fallback() -> None:
    env = {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}
    assert env_proxy("https://a.example", env) == ("http://lower:1", "https_proxy")
    assert env_proxy("https://a.example", {"ALL_PROXY": "socks5h://s:1"}) == (
        "socks5h://s:1",
        "ALL_PROXY",
    )


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/v1", "http://localhost:1", "http://[::1]:2/", "http://127.9.9.9"],
)
def test_loopback_hosts_never_use_environment_proxies(url: str) -> None:
    env = {"HTTPS_PROXY": "http://corp:1", "HTTP_PROXY": "http://corp:1", "CHATPLUG_PROXY": "x"}
    assert env_proxy(url, env) is None


@pytest.mark.parametrize(
    ("no_proxy", "host", "exempt"),
    [
        ("example.com", "api.example.com", True),
        (".example.com", "api.example.com", True),
        ("*.example.com", "example.com", True),
        ("example.com", "notexample.com", False),
        ("10.0.0.0/8", "10.1.2.3", True),
        ("10.0.0.0/8", "11.1.2.3", False),
        ("api.example.com:443", "api.example.com", True),
        ("*", "anything.at.all", True),
        ("", "api.example.com", False),
    ],
)
def test_no_proxy_matching(no_proxy: str, host: str, exempt: bool) -> None:
    assert bypassed(host, {"NO_PROXY": no_proxy}) is exempt


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("192.168.1.10", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_loopback_is_localhost_127_0_0_0_8_and_ipv6_one_only(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
