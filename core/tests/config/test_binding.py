"""What a configuration does to plugins: the registry it binds to (unknown and virtual
providers) and each provider's own settings (:mod:`chatplug.config.binding`)."""

from __future__ import annotations

import warnings
from typing import ClassVar, Dict

import pytest
from chatplug import ConfigError, PluginLoadError
from chatplug.config import ConfigWarning

from .conftest import SECRET, Plugin, UndeclaredPlugin, parse, registry_with


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


def test_a_typo_in_a_provider_table_is_a_warning() -> None:
    config = parse('[providers.base]\nbase_ulr = "http://x"\n')
    provider = registry_with(UndeclaredPlugin()).provider("base")
    with pytest.warns(ConfigWarning, match=r"\[providers.base\]: unknown key 'base_ulr' \(did"):
        config.settings(provider)


def test_a_secret_of_the_wrong_type_is_not_echoed_in_the_error() -> None:
    class Secretive(Plugin):
        CHATPLUG_SETTINGS: ClassVar[Dict[str, type]] = {"api_key": int}

    config = parse(f'[providers.base]\napi_key = "{SECRET}"\n')
    with pytest.raises(ConfigError) as caught:
        config.settings(registry_with(Secretive()).provider("base"))
    assert SECRET not in str(caught.value)


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
