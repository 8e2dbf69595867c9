"""Tests of the plugin, with the fixtures of the chatplug pytest plugin.

``scripted_upstream`` serves exactly the bytes a test scripts (on 127.0.0.1);
``chatplug_emulator`` runs this plugin's emulator; ``chatplug_sync_client`` gives a client
that sees only this provider.  No test reaches the network.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from chatplug import ModelInfo, StreamProtocolError, UpstreamHTTPError
from chatplug.testing import Reply, ScriptedUpstream, make_registry

import chatplug_legacy_acme
from chatplug_legacy_acme.emulator import problem, reply_text

PROVIDER = "legacy-acme"
MODEL = PROVIDER + "-chat"


def test_the_entry_point_loads_this_module() -> None:
    provider = make_registry(PROVIDER).provider(PROVIDER)
    assert provider.plugin is chatplug_legacy_acme


def test_the_default_model_and_its_alias() -> None:
    provider = make_registry(PROVIDER).provider(PROVIDER)
    assert provider.model(None).id == MODEL
    assert provider.model("chat").id == MODEL
    assert all(isinstance(model, ModelInfo) for model in provider.models())


def test_the_request_carries_model_prompt_and_options(
    scripted_upstream: Callable[..., ScriptedUpstream], chatplug_sync_client: Callable[..., Any]
) -> None:
    upstream = scripted_upstream(Reply.ndjson([{"text": "Hi"}, {"done": True}]))
    client = chatplug_sync_client(PROVIDER, base_urls={PROVIDER: upstream.url})
    answer = client.complete("Hello", model="chat", temperature=0.5, system="Be brief.")
    assert answer == "Hi"
    [request] = upstream.requests
    assert (request.method, request.path) == ("POST", "/v1/chat")
    assert request.json() == {
        "model": MODEL,
        "prompt": "Hello",
        "temperature": 0.5,
        "system": "Be brief.",
    }
    assert problem(request.json()) is None  # the emulator would accept it too


def test_text_pieces_stream_in_order(
    scripted_upstream: Callable[..., ScriptedUpstream], chatplug_sync_client: Callable[..., Any]
) -> None:
    lines = [{"text": "Grüße "}, {"text": "✓"}, {"done": True}]
    upstream = scripted_upstream(Reply.ndjson(lines).but(delay=0.01))
    client = chatplug_sync_client(PROVIDER, base_urls={PROVIDER: upstream.url})
    assert list(client.stream("Hello")) == ["Grüße ", "✓"]


def test_a_stream_without_its_done_line_is_an_error(
    scripted_upstream: Callable[..., ScriptedUpstream], chatplug_sync_client: Callable[..., Any]
) -> None:
    upstream = scripted_upstream(Reply.ndjson([{"text": "Hi"}]))
    client = chatplug_sync_client(PROVIDER, base_urls={PROVIDER: upstream.url}, retry=1)
    with pytest.raises(StreamProtocolError):
        client.complete("Hello")


def test_an_http_error_is_typed(
    scripted_upstream: Callable[..., ScriptedUpstream], chatplug_sync_client: Callable[..., Any]
) -> None:
    upstream = scripted_upstream(Reply.error(503, "down for maintenance"))
    client = chatplug_sync_client(PROVIDER, base_urls={PROVIDER: upstream.url}, retry=1)
    with pytest.raises(UpstreamHTTPError) as caught:
        client.complete("Hello")
    assert caught.value.status == 503
    assert "down for maintenance" in caught.value.body


def test_the_emulator_answers_a_conversation(
    chatplug_emulator: Callable[..., Any], chatplug_sync_client: Callable[..., Any]
) -> None:
    emulator = chatplug_emulator(PROVIDER)
    client = chatplug_sync_client(PROVIDER, base_urls={PROVIDER: emulator.url})
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
    ]
    answer = client.complete(messages)
    assert answer == emulator.replies[-1] == reply_text("User: How are you?")


def test_the_emulator_rejects_what_the_upstream_would() -> None:
    assert problem({"model": MODEL, "prompt": ""}) is not None
    assert problem({"model": "nope", "prompt": "Hi"}) is not None
    assert problem({"model": MODEL, "prompt": "Hi", "stream": True}) is not None
    assert problem({"model": MODEL, "prompt": "Hi"}) is None
