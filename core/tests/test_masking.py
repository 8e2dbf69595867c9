"""Masking secrets for display (:mod:`chatplug.masking`)."""

from __future__ import annotations

import pytest
from chatplug.config import mask_url
from chatplug.masking import is_secret_key, mask, mask_text

SECRET = "s3cr3t-Pa55"


def test_mask_url_hides_user_and_password() -> None:
    assert mask_url(f"socks5h://bob:{SECRET}@h:1080") == "socks5h://***@h:1080"
    assert (
        mask_url(f"see http://tok{SECRET}@proxy:1/x and more")
        == "see http://***@proxy:1/x and more"
    )
    assert mask_url("http://proxy:1") == "http://proxy:1"


@pytest.mark.parametrize(
    "password",
    ["pa/ss", "p@ss", "pa:ss", "p/a@s:s", "it's", "pa%2Fss"],
)
def test_every_password_is_masked_whatever_it_holds(password: str) -> None:
    url = f"http://alice:{password}@proxy.example:3128/path"
    assert mask_text(url) == "http://***@proxy.example:3128/path"


def test_a_url_inside_a_message_is_masked_and_the_rest_kept() -> None:
    text = f"Error: 'socks5h://bob:{SECRET}/x@127.0.0.1:1080' is not a proxy URL (port)"
    assert mask_text(text) == "Error: 'socks5h://***@127.0.0.1:1080' is not a proxy URL (port)"


def test_every_url_of_a_text_is_masked() -> None:
    text = f"tried http://a:{SECRET}@one:1 then https://b:{SECRET}@two:2/v1"
    assert mask_text(text) == "tried http://***@one:1 then https://***@two:2/v1"


def test_an_at_sign_in_the_path_of_a_url_without_credentials_is_kept() -> None:
    assert (
        mask_text("see https://medium.com/@someone/post") == "see https://medium.com/@someone/post"
    )


def test_secret_query_parameters_are_masked() -> None:
    url = f"https://api.example/v1/models?key={SECRET}&alt=sse&access_token={SECRET}"
    assert mask_text(url) == "https://api.example/v1/models?key=***&alt=sse&access_token=***"


def test_a_bearer_token_in_text_is_masked() -> None:
    assert mask_text(f"sent Authorization: Bearer {SECRET} upstream") == (
        "sent Authorization: Bearer *** upstream"
    )


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "apiKey",
        "X-Api-Key",
        "key",
        "token",
        "access_token",
        "client_secret",
        "password",
        "passwd",
        "Authorization",
        "proxy_auth",
        "credentials",
        "cookie",
    ],
)
def test_names_that_suggest_a_secret(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "max_completion_tokens",
        "tokenizer",
        "api_key_env",
        "temperature",
        "model",
        "base_url",
    ],
)
def test_names_that_do_not_hold_a_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_mask_hides_secrets_in_nested_tables_and_keeps_the_rest() -> None:
    value = {
        "options": {"api_key": SECRET, "max_tokens": 50, "temperature": 0.2},
        "headers": {"X-Gateway": f"Bearer {SECRET}", "Accept": "text/plain"},
        "mirrors": [f"http://u:{SECRET}@m:1"],
    }
    assert mask(value) == {
        "options": {"api_key": "***", "max_tokens": 50, "temperature": 0.2},
        "headers": {"X-Gateway": "Bearer ***", "Accept": "text/plain"},
        "mirrors": ["http://***@m:1"],
    }


def test_mask_under_a_secret_key_hides_the_whole_value() -> None:
    assert mask({"user": "a", "pass": 1}, "credentials") == "***"
