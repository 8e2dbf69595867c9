"""Per-request resolution: each level of precedence beats the next (config.routes)."""

from __future__ import annotations

import pytest
from chatplug import ConfigError, Timeout

from .conftest import SECRET, parse

FILE = """
[defaults]
proxy = "http://defaults-proxy:3128"
timeout = {connect = 3, first_byte = 30}

[providers.base]
base_url = "https://file.example/v1"
proxy = "http://file-proxy:3128"
timeout = {first_byte = 90}
options = {temperature = 0.2}
"""


def test_base_url_plugin_default_when_nothing_sets_it() -> None:
    route = parse("").route("base", environ={})
    assert route.base_url is None
    assert route.sources["base_url"] == "plugin default"


def test_base_url_file_beats_plugin_default() -> None:
    assert parse(FILE).route("base", environ={}).base_url == "https://file.example/v1"


def test_base_url_environment_beats_file() -> None:
    env = {"CHATPLUG_BASE_BASE_URL": "https://env.example/v1"}
    route = parse(FILE).route("base", environ=env)
    assert route.base_url == "https://env.example/v1"
    assert route.sources["base_url"] == "env CHATPLUG_BASE_BASE_URL"


def test_base_url_env_variable_upper_cases_the_id_and_replaces_dashes() -> None:
    env = {"CHATPLUG_MY_MIRROR_BASE_URL": "http://127.0.0.1:8/v1"}
    assert parse("").route("my-mirror", environ=env).base_url == "http://127.0.0.1:8/v1"


def test_base_url_argument_beats_environment() -> None:
    env = {"CHATPLUG_BASE_BASE_URL": "https://env.example/v1"}
    route = parse(FILE).route("base", base_url="https://arg.example", environ=env)
    assert route.base_url == "https://arg.example"


def test_a_bad_base_url_in_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="environment variable CHATPLUG_BASE_BASE_URL"):
        parse("").route("base", environ={"CHATPLUG_BASE_BASE_URL": "not a url"})


def test_proxy_defaults_table_applies_to_every_provider() -> None:
    assert parse(FILE).route("other", environ={}).proxy == "http://defaults-proxy:3128"


def test_proxy_provider_table_beats_defaults_table() -> None:
    assert parse(FILE).route("base", environ={}).proxy == "http://file-proxy:3128"


def test_proxy_empty_in_provider_table_means_direct() -> None:
    config = parse('[defaults]\nproxy = "http://p:1"\n[providers.base]\nproxy = ""\n')
    assert config.route("base", environ={}).proxy is None


def test_proxy_environment_beats_file() -> None:
    route = parse(FILE).route("base", environ={"CHATPLUG_PROXY": "http://env-proxy:1"})
    assert route.proxy == "http://env-proxy:1"
    assert route.sources["proxy"] == "env CHATPLUG_PROXY"


def test_proxy_standard_https_proxy_beats_file() -> None:
    route = parse(FILE).route("base", environ={"HTTPS_PROXY": "http://corp:8080"})
    assert route.proxy == "http://corp:8080"


def test_proxy_chatplug_proxy_beats_standard_variables() -> None:
    env = {"HTTPS_PROXY": "http://corp:8080", "CHATPLUG_PROXY": "http://mine:1"}
    assert parse("").route("base", environ=env).proxy == "http://mine:1"


def test_proxy_argument_beats_environment() -> None:
    env = {"CHATPLUG_PROXY": "http://env-proxy:1"}
    route = parse(FILE).route("base", proxy="http://arg-proxy:1", environ=env)
    assert route.proxy == "http://arg-proxy:1"


def test_proxy_empty_argument_means_direct_whatever_else_is_set() -> None:
    env = {"CHATPLUG_PROXY": "http://env-proxy:1"}
    assert parse(FILE).route("base", proxy="", environ=env).proxy is None


def test_loopback_falls_through_to_the_files_proxy() -> None:
    config = parse('[providers.base]\nbase_url = "http://127.0.0.1:1"\nproxy = "http://f:2"\n')
    assert config.route("base", environ={"CHATPLUG_PROXY": "http://e:1"}).proxy == "http://f:2"


def test_no_proxy_exempts_a_provider_from_the_environment_proxy() -> None:
    config = parse('[providers.base]\nbase_url = "https://api.internal.corp/v1"\n')
    env = {"HTTPS_PROXY": "http://corp:1", "no_proxy": "localhost,.internal.corp"}
    assert config.route("base", environ=env).proxy is None


def test_timeout_provider_table_beats_defaults_table_beats_builtin() -> None:
    route = parse(FILE).route("base", environ={})
    assert route.timeout == Timeout(connect=3.0, first_byte=90.0, idle=Timeout().idle, total=None)
    assert parse(FILE).route("other", environ={}).timeout.first_byte == 30.0
    assert parse("").route("base", environ={}).timeout == Timeout()


def test_timeout_argument_beats_file() -> None:
    route = parse(FILE).route("base", timeout=Timeout(first_byte=5.0), environ={})
    assert route.timeout.first_byte == 5.0


def test_timeout_false_disables_a_phase() -> None:
    config = parse("[defaults]\ntimeout = {idle = false, total = 600}\n")
    timeout = config.route("base", environ={}).timeout
    assert timeout.idle is None and timeout.total == 600.0


def test_options_come_from_the_provider_table() -> None:
    assert dict(parse(FILE).route("base", environ={}).options) == {"temperature": 0.2}


def test_bad_proxy_errors_never_show_credentials() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(f'[defaults]\nproxy = "ftp://bob:{SECRET}@h:1"\n')
    assert SECRET not in str(caught.value) and "***@h:1" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse("").route("base", proxy=f"gopher://bob:{SECRET}@h:1", environ={})
    assert SECRET not in str(caught.value)


def test_route_repr_masks_the_proxy() -> None:
    route = parse("").route("base", proxy=f"http://bob:{SECRET}@h:1", environ={})
    assert route.proxy == f"http://bob:{SECRET}@h:1"  # the real value still reaches aiohttp
    assert SECRET not in repr(route)
