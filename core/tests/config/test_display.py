"""The configuration shown to people, secrets masked (:mod:`chatplug.config.display`)."""

from __future__ import annotations

from chatplug.config.display import effective, render

from .conftest import SECRET, parse


def test_as_dict_masks_secrets_but_not_env_var_names() -> None:
    config = parse(
        f'[providers.base]\nproxy = "http://u:{SECRET}@p:1"\napi_key = "{SECRET}"\n'
        'api_key_env = "MY_KEY"\n'
    )
    shown = config.as_dict()["providers"]["base"]
    assert SECRET not in repr(shown)
    assert shown["api_key"] == "***" and shown["api_key_env"] == "MY_KEY"


def test_as_dict_masks_secret_options_and_keeps_the_others() -> None:
    config = parse(
        f'[providers.base]\noptions = {{api_key = "{SECRET}", max_tokens = 50}}\n'
        f'headers = {{X-Gateway = "Bearer {SECRET}"}}\n'
    )
    shown = config.as_dict()["providers"]["base"]
    assert shown["options"] == {"api_key": "***", "max_tokens": 50}
    assert shown["headers"] == {"X-Gateway": "Bearer ***"}


def test_the_effective_view_masks_credentials_of_every_source() -> None:
    config = parse(f'[providers.base]\nbase_url = "https://u:{SECRET}@file.example/v1"\n')
    env = {
        "CHATPLUG_PROXY": f"http://bob:{SECRET}@x@corp:3128",
        "CHATPLUG_OTHER_BASE_URL": f"https://v:{SECRET}@env.example/v1",
    }
    text = render(effective(config, env))
    assert SECRET not in text
    assert "# env CHATPLUG_PROXY = http://***@corp:3128" in text
    assert 'base_url = "https://***@env.example/v1"  # env CHATPLUG_OTHER_BASE_URL' in text


def test_the_effective_view_masks_credentials_in_a_providers_error() -> None:
    env = {"CHATPLUG_PROXY": f"http://bob:{SECRET}/x@corp:3128"}  # '/' breaks the URL
    shown = effective(parse("[providers.base]\n"), env)
    assert SECRET not in repr(shown)
    assert "'http://***@corp:3128' is not a proxy URL" in shown["providers"]["base"]["error"]
