"""chatplug.provider_settings: which variable holds a provider's key, the key, hints, headers."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import pytest
from chatplug.provider_settings import (
    api_key,
    default_key_env,
    json_headers,
    key_hint,
    key_variables,
)

OWN = {"acme": ("ACME_API_KEY", "ACME_TOKEN")}


@pytest.mark.parametrize(
    ("provider", "expected"),
    [("groq", "GROQ_API_KEY"), ("my-vllm", "MY_VLLM_API_KEY"), ("a.b", "A_B_API_KEY")],
)
def test_the_default_variable_is_the_id_upper_cased(provider: str, expected: str) -> None:
    assert default_key_env(provider) == expected


@pytest.mark.parametrize(
    ("provider", "settings", "expected"),
    [
        ("acme", {}, ("ACME_API_KEY", "ACME_TOKEN")),  # the plugin's own, in order
        ("acme-eu", {}, ("ACME_EU_API_KEY",)),  # another id never reads acme's key
        ("acme", {"api_key_env": "MINE"}, ("MINE",)),
        ("acme", {"api_key_env": ""}, ()),  # never send a key
    ],
)
def test_key_variables(provider: str, settings: Dict[str, Any], expected: Tuple[str, ...]) -> None:
    assert key_variables(provider, settings, OWN) == expected


@pytest.mark.parametrize(
    ("environment", "settings", "literal", "expected"),
    [
        ({}, {}, True, None),
        ({"ACME_TOKEN": "t"}, {}, True, "t"),  # the first variable that is set
        ({"ACME_API_KEY": "k", "ACME_TOKEN": "t"}, {}, True, "k"),
        ({"ACME_API_KEY": ""}, {}, True, None),  # empty is unset
        ({"ACME_API_KEY": "k"}, {"api_key": "lit"}, True, "lit"),  # the setting wins
        ({"ACME_API_KEY": "k"}, {"api_key": "lit"}, False, "k"),  # unless not accepted
    ],
)
def test_api_key_is_read_now(
    monkeypatch: pytest.MonkeyPatch,
    environment: Dict[str, str],
    settings: Dict[str, Any],
    literal: bool,
    expected: Optional[str],
) -> None:
    for name in ("ACME_API_KEY", "ACME_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert api_key("acme", settings, OWN, literal=literal) == expected


def test_the_hint_names_the_variables_and_whether_the_key_was_set() -> None:
    refused = key_hint("acme", {}, "secret-key", OWN, wanted="an Acme key")
    assert refused == (
        "Set the environment variable ACME_API_KEY or ACME_TOKEN to an Acme key "
        "(ACME_API_KEY or ACME_TOKEN is set but was refused)."
    )
    assert "secret-key" not in refused
    assert key_hint("acme", {}, None, OWN).endswith("is not set).")


def test_the_hint_of_a_refused_api_key_setting_or_of_no_variable() -> None:
    assert "api_key setting of [providers.acme]" in key_hint("acme", {"api_key": "k"}, "k")
    assert "set api_key_env in [providers.acme]" in key_hint("acme", {"api_key_env": ""}, None)


def test_json_headers_add_the_headers_setting_lower_cased_and_winning() -> None:
    settings = {"headers": {"X-Title": "chatplug", "Accept": "application/json"}}
    assert json_headers(settings, "text/event-stream", "acme/1.0") == {
        "content-type": "application/json",
        "accept": "application/json",
        "user-agent": "acme/1.0",
        "x-title": "chatplug",
    }
