"""What each model declares: capabilities and upstream kind (contract 0.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import chatplug_openai
import pytest
from chatplug import AsyncClient, ModelInfo, PluginLoadError, Registry
from chatplug.types import (
    IMAGES,
    JSON_OBJECT,
    JSON_SCHEMA,
    OFFICIAL,
    REASONING,
    SELF_HOSTED,
    TOOLS,
    UNKNOWN,
    USAGE,
)
from chatplug_openai import DEFAULT_CAPABILITIES, OpenAICompatible, virtual_catalogue
from chatplug_openai.catalogue import upstream_kind

FULL = {TOOLS, IMAGES, JSON_SCHEMA, JSON_OBJECT, USAGE}


def openai_models() -> Dict[str, ModelInfo]:
    return {model.id: model for model in chatplug_openai.list_models()}


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"])
def test_gpt_4o_and_4_1_declare_tools_images_structured_output_and_usage(model: str) -> None:
    assert openai_models()[model].capabilities == FULL


def test_o_series_models_also_declare_reasoning_and_o3_mini_has_no_vision() -> None:
    models = openai_models()
    assert models["o4-mini"].capabilities == FULL | {REASONING}
    assert models["o3-mini"].capabilities == (FULL - {IMAGES}) | {REASONING}


def test_gpt_3_5_turbo_has_no_images_and_no_json_schema() -> None:
    assert openai_models()["gpt-3.5-turbo"].capabilities == {TOOLS, JSON_OBJECT, USAGE}


def test_the_openai_catalogue_is_the_official_upstream() -> None:
    assert {model.upstream for model in chatplug_openai.list_models()} == {OFFICIAL}


@pytest.mark.parametrize(
    ("base_url", "kind"),
    [
        ("https://api.openai.com/v1", OFFICIAL),
        ("http://127.0.0.1:11434/v1", SELF_HOSTED),
        ("http://localhost:8000/v1", SELF_HOSTED),
        ("http://192.168.1.20:8000/v1", SELF_HOSTED),
        ("http://[::1]:8080/v1", SELF_HOSTED),
        ("https://api.groq.com/openai/v1", UNKNOWN),
        ("https://8.8.8.8/v1", UNKNOWN),
    ],
)
def test_the_upstream_kind_follows_the_base_url(base_url: str, kind: str) -> None:
    assert upstream_kind(base_url) == kind


def test_an_openai_compatible_provider_declares_the_default_capabilities() -> None:
    (model,) = OpenAICompatible(
        "ollama", base_url="http://127.0.0.1:11434/v1", models=["m"]
    ).list_models()
    assert model.capabilities == DEFAULT_CAPABILITIES == FULL
    assert model.upstream == SELF_HOSTED


def test_configured_capabilities_replace_the_default() -> None:
    provider = OpenAICompatible("lan", models=["m"], capabilities=["usage"])
    (model,) = provider.list_models()
    assert model.capabilities == {USAGE}
    assert model.upstream == UNKNOWN


def test_the_capabilities_setting_of_a_configured_provider_is_honoured() -> None:
    provider = chatplug_openai.configured_provider(
        "vllm", {"base_url": "http://10.0.0.5:8000/v1", "models": ["m"], "capabilities": []}
    )
    (model,) = provider.list_models()
    assert (model.capabilities, model.upstream) == (frozenset(), SELF_HOSTED)


def test_virtual_catalogue_lists_the_models_with_the_settings_capabilities() -> None:
    models = virtual_catalogue("groq", ["a", "b"], {"capabilities": ["tools", "usage"]})
    assert [(m.id, m.default, m.capabilities) for m in models] == [
        ("a", True, {TOOLS, USAGE}),
        ("b", False, {TOOLS, USAGE}),
    ]


def test_virtual_catalogue_without_models_offers_openais_ids_as_an_unknown_upstream() -> None:
    models = virtual_catalogue("mirror", [], {})
    assert [m.id for m in models][:2] == ["gpt-4o-mini", "gpt-4o"]
    assert {(m.upstream, m.capabilities) for m in models} == {(UNKNOWN, DEFAULT_CAPABILITIES)}


async def test_a_provider_declared_in_chatplug_toml_declares_its_capabilities_setting(
    tmp_path: Path,
) -> None:
    config = tmp_path / "chatplug.toml"
    config.write_text(
        '[providers.lan]\nplugin = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'models = ["small", "big"]\ncapabilities = ["tools", "usage"]\n',
        encoding="utf-8",
    )
    async with AsyncClient(config=config, registry=Registry(enabled=["openai", "lan"])) as c:
        models = c.models("lan")
    assert [(m.id, m.default, m.capabilities) for m in models] == [
        ("small", True, {TOOLS, USAGE}),
        ("big", False, {TOOLS, USAGE}),
    ]


async def test_an_unknown_capability_in_chatplug_toml_disables_the_provider_with_the_reason(
    tmp_path: Path,
) -> None:
    config = tmp_path / "chatplug.toml"
    config.write_text(
        '[providers.lan]\nplugin = "openai"\nmodels = ["m"]\ncapabilities = ["vision"]\n',
        encoding="utf-8",
    )
    async with AsyncClient(config=config, registry=Registry(enabled=["openai", "lan"])) as c:
        with pytest.raises(PluginLoadError, match="unknown capability 'vision'"):
            c.models("lan")


def test_an_unknown_capability_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown capability 'telepathy'.*json_schema"):
        OpenAICompatible("lan", capabilities=["telepathy"])
