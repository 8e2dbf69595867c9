"""The catalogue: three models, the default, the alias map (which wins), metadata."""

from __future__ import annotations

import chatplug_ai365vip
from chatplug import Registry


def test_catalogue_lists_the_three_models_with_one_default() -> None:
    models = Registry(enabled=["ai365vip"]).models("ai365vip")
    assert [(m.id, m.default) for m in models] == [
        ("gpt-3.5-turbo", True),
        ("gpt-3.5-turbo-16k", False),
        ("gpt-4o", False),
    ]
    assert {m.provider for m in models} == {"ai365vip"}


def test_each_model_carries_its_own_display_name() -> None:
    names = {m.id: m.name for m in chatplug_ai365vip.list_models()}
    assert names == {
        "gpt-3.5-turbo": "GPT-3.5",
        "gpt-3.5-turbo-16k": "GPT-3.5-16K",
        "gpt-4o": "GPT-4o",
    }


def test_alias_map_wins_over_the_plain_model_list() -> None:
    # The original client never applied its alias map.
    provider = Registry(enabled=["ai365vip"]).provider("ai365vip")
    assert provider.model("gpt-3.5-turbo").id == "gpt-3.5-turbo-16k"
    assert provider.model("gpt-4o").id == "gpt-4o"
    assert chatplug_ai365vip.wire_model(provider.model(None).id) == "gpt-3.5-turbo-16k"


def test_model_metadata_has_url_working_and_capabilities() -> None:
    for model in chatplug_ai365vip.list_models():
        assert model.metadata["url"] == "https://chat.ai365vip.com"
        assert model.metadata["working"] is True
        assert "streaming" in model.metadata["capabilities"]
    served = {m.id: m.metadata["served_as"] for m in chatplug_ai365vip.list_models()}
    assert served["gpt-3.5-turbo"] == "gpt-3.5-turbo-16k"


def test_plugin_and_emulator_are_registered_through_entry_points() -> None:
    from chatplug.emulation import emulator_factory
    from chatplug_ai365vip.emulator import create_app

    provider = Registry(enabled=["ai365vip"]).provider("ai365vip")
    assert provider.plugin is chatplug_ai365vip
    assert provider.info.distribution == "chatplug-ai365vip"
    assert emulator_factory("ai365vip") is create_app
