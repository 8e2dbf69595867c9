"""The catalogue: one model, the default, with the provider's metadata."""

from __future__ import annotations

import chatplug_vitalentum
from chatplug import Registry


def test_catalogue_has_one_default_model() -> None:
    models = Registry(enabled=["vitalentum"]).models("vitalentum")
    assert [(m.id, m.default, m.provider) for m in models] == [
        ("gpt-3.5-turbo", True, "vitalentum")
    ]


def test_model_metadata_has_url_working_and_capabilities() -> None:
    (model,) = chatplug_vitalentum.list_models()
    assert model.metadata["url"] == "https://app.vitalentum.io"
    assert model.metadata["working"] is True
    assert "streaming" in model.metadata["capabilities"]


def test_plugin_is_discovered_through_its_entry_point() -> None:
    provider = Registry(enabled=["vitalentum"]).provider("vitalentum")
    assert provider.plugin is chatplug_vitalentum
    assert provider.info.distribution == "chatplug-vitalentum"


def test_emulator_is_registered_for_the_provider() -> None:
    from chatplug.emulation import emulator_factory
    from chatplug_vitalentum.emulator import create_app

    assert emulator_factory("vitalentum") is create_app
