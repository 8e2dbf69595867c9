"""The same guarantees hold for the installed seed plugins (skipped when one is missing).

Each seed provider is pointed (``base_urls``) at a scripted upstream speaking its wire format
(docs: shared providers.md); the core's handling must not depend on the plugin.
"""

from __future__ import annotations

import importlib.util
import json
from typing import Callable, Dict, Tuple

import pytest
from chatplug import (
    AsyncClient,
    Registry,
    RetryPolicy,
    Timeout,
    UpstreamConnectionError,
    UpstreamTimeoutError,
)
from chatplug.testing import Reply, ScriptedUpstream
from faultkit import Outcome, collect, settle, status, stream

pytestmark = pytest.mark.timeout(20)

TIMEOUT = Timeout(connect=1.0, first_byte=0.5, idle=0.5)


def vitalentum_piece(text: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"delta": {"content": text}}]}).encode() + b"\n\n"


def aichatonline_piece(text: str) -> bytes:
    return json.dumps({"data": {"message": text}}).encode() + b"\n"


def ai365vip_piece(text: str) -> bytes:
    return text.encode()


unique_id = Reply.json({"data": "uid-1"}, keep_alive=True)  # AiChatOnline's first request


# provider -> (module, piece encoder, content type, end marker, scripts before the chat)
SEEDS: Dict[str, Tuple[str, Callable[[str], bytes], str, bytes, Tuple[Reply, ...]]] = {
    "vitalentum": (
        "chatplug_vitalentum",
        vitalentum_piece,
        "text/event-stream",
        b"data: [DONE]\n\n",
        (),
    ),
    "aichatonline": (
        "chatplug_aichatonline",
        aichatonline_piece,
        "application/x-ndjson",
        b"",
        (unique_id,),
    ),
    "ai365vip": ("chatplug_ai365vip", ai365vip_piece, "text/plain", b"", ()),
}


def seed(name: str) -> Tuple[Callable[[str], bytes], str, bytes, Tuple[Reply, ...]]:
    module, piece, content_type, end, before = SEEDS[name]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")
    return piece, content_type, end, before


async def run(name: str, *scripts: Reply, before: Tuple[Reply, ...] = ()) -> Outcome:
    async with ScriptedUpstream(*before, *scripts) as up:
        client = AsyncClient(
            registry=Registry(enabled=[name]),
            base_urls={name: up.url},
            timeout=TIMEOUT,
            retry=RetryPolicy(attempts=2, backoff=0.01),
            config=False,
        )
        async with client:
            outcome = await collect(client, provider=name)
            assert await settle(client) == 0
            return outcome


@pytest.mark.parametrize("name", sorted(SEEDS))
async def test_seed_plugin_stall_mid_stream_is_an_idle_timeout_with_partial_text(
    name: str,
) -> None:
    piece, content_type, _, before = seed(name)
    script = stream(piece("abc"), content_type=content_type, end="hang")
    outcome = await run(name, script, before=before)
    assert outcome.text == "abc"
    assert isinstance(outcome.error, UpstreamTimeoutError) and outcome.error.phase == "idle"


@pytest.mark.parametrize("name", sorted(SEEDS))
async def test_seed_plugin_reset_mid_stream_is_a_connection_error_with_partial_text(
    name: str,
) -> None:
    piece, content_type, _, before = seed(name)
    script = stream(piece("abc"), content_type=content_type, end_delay=0.05, end="reset")
    outcome = await run(name, script, before=before)
    assert outcome.text == "abc"
    assert isinstance(outcome.error, UpstreamConnectionError)


@pytest.mark.parametrize("name", sorted(SEEDS))
async def test_seed_plugin_silent_upstream_is_a_first_byte_timeout(name: str) -> None:
    _, content_type, _, before = seed(name)
    script = stream(content_type=content_type, end="hang")
    outcome = await run(name, script, before=before)
    assert isinstance(outcome.error, UpstreamTimeoutError)
    assert outcome.error.phase == "first_byte"


@pytest.mark.parametrize("name", sorted(SEEDS))
async def test_seed_plugin_503_then_success_is_retried(name: str) -> None:
    piece, content_type, end, before = seed(name)
    busy = status(503, body=b"busy")
    ok = stream(piece("Hé") + piece("llo"), *([end] if end else []), content_type=content_type)
    outcome = await run(name, busy, ok, before=before)
    assert outcome.error is None, outcome.error
    assert outcome.text == "Héllo"
    assert len(outcome.attempts) == 2
