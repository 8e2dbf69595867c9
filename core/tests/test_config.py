"""The configuration layer: the file, its errors and warnings, and the precedence rules."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, AsyncIterator, ClassVar, Dict, List

import pytest
from chatplug import ConfigError, ModelInfo, PluginLoadError, Registry, Timeout, hookimpl
from chatplug.config import (
    Config,
    ConfigWarning,
    bypassed,
    config_path,
    env_proxy,
    is_loopback,
    load_config,
    mask_url,
)

SECRET = "s3cr3t-Pa55"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        upper = name.upper()
        if upper.endswith("_PROXY") or (upper.startswith("CHATPLUG_") and "BASE_URL" in upper):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHATPLUG_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def parse(text: str) -> Config:
    return Config.from_toml(text, path=Path("/etc/chatplug.toml"))


class Plugin:
    CHATPLUG_SETTINGS: ClassVar[Dict[str, type]] = {
        "api_key_env": str,
        "organization": str,
        "max_keys": int,
    }

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo("m1", "base", default=True), ModelInfo("m2", "base")]

    @hookimpl
    async def stream_completion(self, request: Any, session: Any) -> AsyncIterator[str]:
        yield "x"


class UndeclaredPlugin(Plugin):
    CHATPLUG_SETTINGS = None  # type: ignore[assignment]


def registry_with(plugin: object = None) -> Registry:
    registry = Registry(discover=False, enabled=None)
    registry.register("base", plugin if plugin is not None else Plugin())
    return registry


# where the file is ---------------------------------------------------------------------


def test_the_default_path_is_in_the_user_config_dir(tmp_path: Path) -> None:
    assert config_path() == tmp_path / "xdg" / "chatplug" / "chatplug.toml"


def test_a_missing_file_at_the_default_path_is_an_empty_configuration() -> None:
    assert load_config().empty


def test_chatplug_config_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "my.toml"
    path.write_text('[defaults]\nmodel = "m2"\n')
    monkeypatch.setenv("CHATPLUG_CONFIG", str(path))
    assert config_path() == path
    assert load_config().defaults.model == "m2"


def test_an_empty_chatplug_config_turns_the_file_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATPLUG_CONFIG", "")
    assert config_path() is None
    assert load_config().empty


def test_a_missing_file_named_by_chatplug_config_is_an_empty_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHATPLUG_CONFIG", str(tmp_path / "not-yet.toml"))
    assert load_config().empty


def test_a_missing_file_given_explicitly_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: the configuration file does not exist"):
        load_config(tmp_path / "nope.toml")


def test_the_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[defaults]\nmodel = "a"\n')
    first = load_config(path)
    assert load_config(path) is first
    path.write_text('[defaults]\nmodel = "bb"\n')
    assert load_config(path).defaults.model == "bb"


def test_import_chatplug_reads_no_configuration(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("this is = = not toml")
    code = (
        "import sys, chatplug; "
        "print(any(m in sys.modules for m in ('chatplug.config', 'tomllib', 'platformdirs')))"
    )
    env = {**os.environ, "CHATPLUG_CONFIG": str(broken)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# bad files -------------------------------------------------------------------------------


def test_unparseable_toml_names_the_file_and_the_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse('[defaults]\nmodel = "a"\nproxy = \n')
    assert "/etc/chatplug.toml: invalid TOML" in str(caught.value)
    assert "line 3" in str(caught.value)


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[defaults]\nmodel = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        Config.from_file(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[defaults]\nretries = 'two'", "[defaults] retries must be an integer >= 0, not a string"),
        ("[defaults]\nproviders = 'a'", "[defaults] providers must be a list of strings"),
        ("[defaults]\ntimeout = -1", "[defaults] timeout"),
        ("[defaults]\ntimeout = {connect = 'x'}", "[defaults] timeout.connect must be a positive"),
        ("[defaults]\nfallback = 'random'", 'fallback must be "given" or "healthiest"'),
        ("[providers.a]\nenabled = 'yes'", "[providers.a] enabled must be true or false"),
        ("[providers.a]\nbase_url = 'ftp://x'", "[providers.a] base_url: 'ftp://x' is not an http"),
        ("[providers.a]\nproxy = 'ftp://h:1'", "[providers.a] proxy: 'ftp://h:1' is not a proxy"),
        ("[providers.a]\noptions = 3", "[providers.a] options must be a table"),
        ("[providers.a]\nmodels = [1]", "[providers.a] models must be a list of strings"),
        ("[providers.Bad]\nbase_url = 'http://x'", "'Bad' is not a provider id"),
        ("providers = 3", "[providers] must be a table"),
    ],
)
def test_a_wrong_type_names_the_file_the_key_and_what_is_expected(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert str(caught.value).startswith("/etc/chatplug.toml: ")
    assert expected in str(caught.value)


def test_an_unknown_key_is_a_warning_naming_the_file_and_the_key() -> None:
    with pytest.warns(ConfigWarning) as caught:
        config = parse('colour = "blue"\n[defaults]\nmodle = "x"\n')
    messages = [str(w.message) for w in caught]
    assert any("/etc/chatplug.toml: unknown key 'colour'" in m for m in messages)
    assert any("unknown key 'modle' in [defaults] (did you mean 'model'?)" in m for m in messages)
    assert config.defaults.model is None


def test_a_typo_in_a_provider_table_is_a_warning() -> None:
    config = parse('[providers.base]\nbase_ulr = "http://x"\n')
    provider = registry_with(UndeclaredPlugin()).provider("base")
    with pytest.warns(ConfigWarning, match=r"\[providers.base\]: unknown key 'base_ulr' \(did"):
        config.settings(provider)


def test_an_unknown_provider_is_an_error() -> None:
    config = parse('[providers.nope]\nbase_url = "http://127.0.0.1:1"\n')
    with pytest.raises(ConfigError) as caught:
        config.registry(registry_with())
    message = str(caught.value)
    assert "/etc/chatplug.toml: [providers.nope]: unknown provider 'nope'" in message
    assert "installed providers: base" in message
    assert "plugin =" in (caught.value.hint or "")


def test_an_unknown_provider_in_the_fallback_order_is_an_error() -> None:
    config = parse('[defaults]\nproviders = ["base", "gone"]\n')
    with pytest.raises(ConfigError, match=r"\[defaults\] providers: unknown provider 'gone'"):
        config.registry(registry_with())


def test_a_virtual_provider_of_an_unknown_plugin_is_an_error() -> None:
    config = parse('[providers.local]\nplugin = "missing"\n')
    with pytest.raises(ConfigError, match=r"\[providers.local\]: plugin = 'missing' is not"):
        config.registry(registry_with())


def test_a_virtual_provider_cannot_take_an_installed_id() -> None:
    registry = registry_with()
    registry.register("other", Plugin())
    config = parse('[providers.other]\nplugin = "base"\n')
    with pytest.raises(ConfigError, match="already taken by an installed plugin"):
        config.registry(registry)


def test_config_error_is_a_chatplug_error_with_its_own_exit_code() -> None:
    import chatplug

    assert issubclass(chatplug.ConfigError, chatplug.ChatplugError)
    assert ConfigError("x").exit_code == 12


# plugin settings ---------------------------------------------------------------------------


def test_declared_plugin_settings_are_validated_and_passed() -> None:
    config = parse('[providers.base]\napi_key_env = "MY_KEY"\nmax_keys = 3\n')
    provider = registry_with().provider("base")
    assert config.settings(provider) == {"api_key_env": "MY_KEY", "max_keys": 3}


def test_a_declared_setting_of_the_wrong_type_is_an_error() -> None:
    config = parse("[providers.base]\napi_key_env = 42\n")
    provider = registry_with().provider("base")
    with pytest.raises(ConfigError) as caught:
        config.settings(provider)
    assert "[providers.base]: api_key_env must be a string, not an integer (42)" in str(
        caught.value
    )


def test_an_undeclared_setting_is_a_warning_and_is_left_out() -> None:
    config = parse('[providers.base]\napi_key_env = "K"\nshoe_size = 44\n')
    provider = registry_with().provider("base")
    with pytest.warns(ConfigWarning, match=r"unknown key 'shoe_size'; known keys: .*api_key_env"):
        settings = config.settings(provider)
    assert settings == {"api_key_env": "K"}


def test_plugins_that_declare_nothing_get_every_extra_key_unchecked() -> None:
    config = parse("[providers.base]\nanything = [1, 2]\n")
    provider = registry_with(UndeclaredPlugin()).provider("base")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config.settings(provider) == {"anything": [1, 2]}


# virtual providers in the registry ---------------------------------------------------------


def test_a_virtual_provider_shares_the_plugins_hooks_with_its_own_catalogue() -> None:
    plugin = Plugin()
    registry = registry_with(plugin)
    registry.add_virtual_provider(
        "local", "base", models=["llama3", "qwen"], settings={"api_key_env": "LOCAL_KEY"}
    )
    provider = registry.provider("local")
    assert provider.plugin is plugin
    assert [(m.id, m.provider, m.default) for m in provider.models()] == [
        ("llama3", "local", True),
        ("qwen", "local", False),
    ]
    assert provider.settings == {"api_key_env": "LOCAL_KEY"}
    assert "local" in registry.names()
    assert [m.qualified_id for m in registry.models("base")] == ["base/m1", "base/m2"]


def test_a_virtual_provider_without_models_offers_the_plugins_catalogue() -> None:
    registry = registry_with()
    registry.add_virtual_provider("mirror", "base")
    assert [m.qualified_id for m in registry.models("mirror")] == ["mirror/m1", "mirror/m2"]


def test_a_virtual_provider_of_a_missing_plugin_fails_to_load_with_a_clear_error() -> None:
    registry = registry_with()
    registry.add_virtual_provider("ghost", "absent")
    with pytest.raises(PluginLoadError, match="served by plugin 'absent', which cannot load"):
        registry.provider("ghost")


def test_disable_leaves_a_provider_out() -> None:
    registry = registry_with()
    registry.register("other", Plugin())
    registry.disable("other")
    assert registry.names() == ["base"]


# precedence ---------------------------------------------------------------------------------

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


def test_loopback_falls_through_to_the_files_proxy() -> None:
    config = parse('[providers.base]\nbase_url = "http://127.0.0.1:1"\nproxy = "http://f:2"\n')
    assert config.route("base", environ={"CHATPLUG_PROXY": "http://e:1"}).proxy == "http://f:2"


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


def test_no_proxy_exempts_a_provider_from_the_environment_proxy() -> None:
    config = parse('[providers.base]\nbase_url = "https://api.internal.corp/v1"\n')
    env = {"HTTPS_PROXY": "http://corp:1", "no_proxy": "localhost,.internal.corp"}
    assert config.route("base", environ=env).proxy is None


def test_is_loopback() -> None:
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.com")


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


def test_retries_counts_retries_after_the_first_attempt() -> None:
    assert parse("[defaults]\nretries = 0\n").defaults.retry.attempts == 1  # type: ignore[union-attr]
    config = parse("[defaults]\nretries = 2\n[defaults.retry]\nmax_time = 5\n")
    assert config.defaults.retry is not None
    assert (config.defaults.retry.attempts, config.defaults.retry.max_time) == (3, 5.0)


def test_options_come_from_the_provider_table() -> None:
    assert dict(parse(FILE).route("base", environ={}).options) == {"temperature": 0.2}


# credentials ----------------------------------------------------------------------------------


def test_mask_url_hides_user_and_password() -> None:
    assert mask_url(f"socks5h://bob:{SECRET}@h:1080") == "socks5h://***@h:1080"
    assert (
        mask_url(f"see http://tok{SECRET}@proxy:1/x and more")
        == "see http://***@proxy:1/x and more"
    )
    assert mask_url("http://proxy:1") == "http://proxy:1"


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


def test_as_dict_masks_secrets_but_not_env_var_names() -> None:
    config = parse(
        f'[providers.base]\nproxy = "http://u:{SECRET}@p:1"\napi_key = "{SECRET}"\n'
        'api_key_env = "MY_KEY"\n'
    )
    shown = config.as_dict()["providers"]["base"]
    assert SECRET not in repr(shown)
    assert shown["api_key"] == "***" and shown["api_key_env"] == "MY_KEY"


def test_a_secret_of_the_wrong_type_is_not_echoed_in_the_error() -> None:
    class Secretive(Plugin):
        CHATPLUG_SETTINGS: ClassVar[Dict[str, type]] = {"api_key": int}

    config = parse(f'[providers.base]\napi_key = "{SECRET}"\n')
    with pytest.raises(ConfigError) as caught:
        config.settings(registry_with(Secretive()).provider("base"))
    assert SECRET not in str(caught.value)
