"""Discovery through entry points, plugin validation, and model resolution."""

from __future__ import annotations

import sys

import pytest
from chatplug import (
    AsyncClient,
    ModelInfo,
    ModelNotFoundError,
    PluginLoadError,
    ProviderNotFoundError,
    Registry,
    hookimpl,
)
from chatplug.types import OFFICIAL, SELF_HOSTED, UNKNOWN, WEB_CHAT

from .conftest import Install, ScriptedPlugin, echo_plugin, scripted_registry


def test_installed_plugin_is_discovered_with_distribution_and_version(
    install_plugin: Install,
) -> None:
    install_plugin("acme", echo_plugin("acme"), version="2.0.1")
    [info] = [p for p in Registry().plugins() if p.name == "acme"]
    assert (info.distribution, info.version, info.status) == ("chatplug-acme", "2.0.1", "available")


def test_listing_plugins_imports_none_of_them(install_plugin: Install) -> None:
    install_plugin("acme", echo_plugin("acme"))
    Registry().plugins()
    assert "chatplug_acme" not in sys.modules


def test_loading_a_plugin_registers_it_under_its_entry_point_name(install_plugin: Install) -> None:
    install_plugin("acme", echo_plugin("acme"))
    registry = Registry()
    provider = registry.provider("acme")
    assert provider.name == "acme"
    assert registry.plugins()[[p.name for p in registry.plugins()].index("acme")].status == "loaded"


def test_chatplug_plugins_env_limits_what_loads(
    install_plugin: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin("acme", echo_plugin("acme"))
    install_plugin("zeta", echo_plugin("zeta"))
    monkeypatch.setenv("CHATPLUG_PLUGINS", "zeta")
    registry = Registry()
    statuses = {p.name: p.status for p in registry.plugins()}
    assert statuses["acme"] == "disabled"
    assert [p.name for p in registry.load_all()] == ["zeta"]
    with pytest.raises(ProviderNotFoundError, match="available providers: zeta"):
        registry.provider("acme")


def test_a_plugin_that_fails_to_import_is_recorded_and_others_still_load(
    install_plugin: Install,
) -> None:
    install_plugin("broken", "raise RuntimeError('boom at import')")
    install_plugin("acme", echo_plugin("acme"))
    registry = Registry(enabled=["acme", "broken"])
    assert [p.name for p in registry.load_all()] == ["acme"]
    broken = {p.name: p for p in registry.plugins()}["broken"]
    assert broken.status == "failed"
    assert "RuntimeError: boom at import" in (broken.error or "")
    with pytest.raises(PluginLoadError, match="boom at import"):
        registry.provider("broken")


def test_an_unknown_hook_name_fails_validation_of_that_plugin_alone(
    install_plugin: Install,
) -> None:
    install_plugin("typo", echo_plugin("typo") + "\n@hookimpl\ndef list_modles():\n    return []\n")
    registry = Registry(enabled=["typo"])
    with pytest.raises(PluginLoadError, match="unknown hook 'list_modles'"):
        registry.provider("typo")


def test_a_wrong_argument_name_fails_validation(install_plugin: Install) -> None:
    source = echo_plugin("args").replace(
        "stream_completion(request, session)", "stream_completion(req, session)"
    )
    install_plugin("args", source)
    with pytest.raises(PluginLoadError, match="invalid hooks"):
        Registry(enabled=["args"]).provider("args")


def test_a_missing_required_hook_fails_validation(install_plugin: Install) -> None:
    install_plugin(
        "half",
        "from chatplug import ModelInfo, hookimpl\n"
        "@hookimpl\ndef list_models():\n    return [ModelInfo('m', 'half')]\n",
    )
    with pytest.raises(PluginLoadError, match="missing required hook 'stream_completion'"):
        Registry(enabled=["half"]).provider("half")


def test_a_non_generator_stream_completion_fails_validation(install_plugin: Install) -> None:
    source = echo_plugin("sync").replace("async def stream_completion", "def stream_completion")
    source = source.split("    body =")[0] + "    return ['x']\n"
    install_plugin("sync", source)
    with pytest.raises(PluginLoadError, match="async generator"):
        Registry(enabled=["sync"]).provider("sync")


def test_an_invalid_provider_id_is_reported(install_plugin: Install) -> None:
    install_plugin("Bad_Name", echo_plugin("Bad_Name"), module="chatplug_badname")
    info = {p.name: p for p in Registry().plugins()}["Bad_Name"]
    assert info.status == "failed"
    assert "invalid provider id" in (info.error or "")


def registry_with(*names: str) -> Registry:
    registry = Registry(discover=False)
    for name in names:
        namespace: dict = {}
        exec(echo_plugin(name), namespace)
        registry.register(
            name,
            type(
                name,
                (),
                {
                    k: staticmethod(v)
                    for k, v in namespace.items()
                    if k in ("list_models", "stream_completion")
                },
            ),
        )
    return registry


def test_model_none_resolves_to_the_provider_default() -> None:
    [(provider, model)] = registry_with("acme").candidates(None, "acme")
    assert (provider.name, model.id) == ("acme", "small")


def test_an_alias_wins_over_a_plain_model_id() -> None:
    [(_, model)] = registry_with("acme").candidates("small-16k", "acme")
    assert model.id == "large"


def test_provider_slash_model_addresses_one_provider() -> None:
    registry = registry_with("acme", "zeta")
    [(provider, model)] = registry.candidates("zeta/big", None)
    assert (provider.name, model.id) == ("zeta", "large")


def test_a_bare_model_id_resolves_across_providers_in_order() -> None:
    registry = registry_with("acme", "zeta")
    pairs = registry.candidates("large", None, order=("zeta", "acme"))
    assert [(p.name, m.id) for p, m in pairs] == [("zeta", "large"), ("acme", "large")]


def test_an_unknown_model_lists_what_is_available() -> None:
    with pytest.raises(ModelNotFoundError, match="available models: acme/small, acme/large"):
        registry_with("acme").candidates("gpt-9", None)


def test_an_unknown_model_of_a_provider_lists_its_models_and_aliases() -> None:
    with pytest.raises(ModelNotFoundError, match="small, large, small-16k, big") as caught:
        registry_with("acme").candidates("gpt-9", "acme")
    assert caught.value.provider == "acme"


def test_an_unknown_provider_lists_available_providers() -> None:
    with pytest.raises(ProviderNotFoundError, match="available providers: acme"):
        registry_with("acme").candidates(None, "nope")


def test_a_catalogue_with_two_defaults_is_a_plugin_error() -> None:
    registry = Registry(discover=False)

    class Twice:
        @staticmethod
        def list_models() -> list:
            from chatplug import ModelInfo

            return [ModelInfo("a", "twice", default=True), ModelInfo("b", "twice", default=True)]

    from chatplug import hookimpl

    Twice.list_models = staticmethod(hookimpl(Twice.list_models))  # type: ignore[method-assign]

    async def stream_completion(request, session):  # type: ignore[no-untyped-def]
        yield "x"

    Twice.stream_completion = staticmethod(hookimpl(stream_completion))  # type: ignore[attr-defined]
    registry.register("twice", Twice)
    with pytest.raises(PluginLoadError, match="several default models"):
        registry.models("twice")


# Asking for an installed but disabled provider: ``CHATPLUG_PLUGINS=vitalentum chatplug chat
# -p openai`` answered "unknown provider 'openai'" with the hint to ``pip install`` it,
# although it is installed.


class Acme:
    @hookimpl
    def list_models(self) -> list:  # type: ignore[type-arg]
        return [ModelInfo("m1", "acme", default=True)]

    @hookimpl
    async def stream_completion(self, request, session):  # type: ignore[no-untyped-def]
        yield "hi"


def test_a_disabled_provider_is_not_found_and_the_error_says_it_is_disabled() -> None:
    registry = Registry(discover=False, enabled=None)
    registry.register("acme", Acme())
    registry.disable("acme")
    with pytest.raises(ProviderNotFoundError) as caught:
        registry.provider("acme")
    assert "disabled" in str(caught.value)
    assert caught.value.hint is not None
    assert "CHATPLUG_PLUGINS" in caught.value.hint and "pip install" not in caught.value.hint


def test_an_unknown_provider_still_suggests_installing_one() -> None:
    registry = Registry(discover=False, enabled=None)
    with pytest.raises(ProviderNotFoundError) as caught:
        registry.provider("nosuch")
    assert "disabled" not in str(caught.value)
    assert caught.value.hint is not None and "pip install" in caught.value.hint


def test_a_virtual_provider_names_its_serving_plugin() -> None:
    registry = registry_with("acme")
    info = registry.add_virtual_provider("mirror", "acme", models=["m7"])
    assert (info.plugin, info.serving) == ("acme", "acme")
    assert info.value == "acme (virtual)"  # unchanged for callers that read it
    assert info.as_dict()["plugin"] == "acme"


def test_an_installed_provider_is_served_by_itself(install_plugin: Install) -> None:
    install_plugin("acme", echo_plugin("acme"))
    info = next(item for item in Registry(enabled=["acme"]).plugins() if item.name == "acme")
    assert (info.plugin, info.serving) == (None, "acme")


def kinds_registry() -> Registry:
    """``gpt`` offered by a web chat, an unknown, a self-hosted and an official provider
    (named so that alphabetical order is the reverse of the preferred one)."""
    plugins = [
        ScriptedPlugin(name, models=[ModelInfo("gpt", name, default=True, upstream=kind)])
        for name, kind in [
            ("alpha-web", WEB_CHAT),
            ("beta-unknown", UNKNOWN),
            ("delta-self", SELF_HOSTED),
            ("gamma-self", SELF_HOSTED),
            ("zeta-official", OFFICIAL),
        ]
    ]
    return scripted_registry(*plugins)


def test_a_bare_model_id_prefers_official_then_self_hosted_then_unknown_then_web_chat() -> None:
    order = [provider.name for provider, _ in kinds_registry().candidates("gpt", None)]
    assert order == ["zeta-official", "delta-self", "gamma-self", "beta-unknown", "alpha-web"]


def test_configured_providers_beat_the_upstream_kind() -> None:
    config = {"defaults": {"providers": ["alpha-web", "zeta-official"]}}
    client = AsyncClient(registry=kinds_registry(), config=config)
    assert [item.provider for item in client.resolve("gpt")] == ["alpha-web", "zeta-official"]


async def test_a_bare_model_id_is_answered_by_the_official_api() -> None:
    async with AsyncClient(registry=kinds_registry(), config=False) as client:
        completion = await client.respond("hi", model="gpt")
    assert completion.provider == "zeta-official"
