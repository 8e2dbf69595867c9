"""The catalogue and the two entry points, read through the core's registry."""

from __future__ import annotations

from chatplug import Registry
from chatplug.emulation import emulator_factory
from chatplug_aichatonline import API_URL, SITE_URL, list_models
from chatplug_aichatonline.emulator import create_app


def test_the_only_model_is_gpt_4o_mini_and_it_is_the_default() -> None:
    models = list_models()
    assert [(m.id, m.provider, m.default, m.aliases) for m in models] == [
        ("gpt-4o-mini", "aichatonline", True, ())
    ]


def test_model_metadata_has_url_working_and_capabilities() -> None:
    metadata = list_models()[0].metadata
    assert metadata["url"] == SITE_URL
    assert metadata["api_url"] == API_URL
    assert metadata["working"] is True
    assert set(metadata["capabilities"]) == {"chat", "streaming", "system-prompt"}


def test_registry_loads_the_provider_from_its_entry_point(registry: Registry) -> None:
    provider = registry.provider("aichatonline")
    assert provider.info.distribution == "chatplug-aichatonline"
    assert provider.info.status == "loaded"
    assert provider.default_model.id == "gpt-4o-mini"
    assert [m.qualified_id for m in registry.models()] == ["aichatonline/gpt-4o-mini"]


def test_registry_uses_the_core_default_prompt_rendering(registry: Registry) -> None:
    provider = registry.provider("aichatonline")
    messages = (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    )
    assert (
        provider.format_prompt(messages, "gpt-4o-mini") == "System: Be brief.\nUser: Hi\nAssistant:"
    )


def test_the_emulator_is_registered_under_the_provider_id() -> None:
    assert emulator_factory("aichatonline") is create_app
