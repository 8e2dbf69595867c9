"""The synchronous Client and SyncStream: streaming, closing, and refusing a running loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from chatplug import Client, Registry
from chatplug.testing import ScriptedUpstream

from .upstream import echo, expected


def test_sync_client_streams_and_completes(acme: Registry) -> None:
    with (
        ScriptedUpstream(handler=echo()) as running,
        Client(registry=acme, base_urls={"acme": running.url}) as client,
    ):
        pieces = list(client.stream("sync ✓"))
        assert "".join(pieces) == expected("sync ✓")
        assert client.complete("again") == expected("again")
        assert [m.id for m in client.models("acme")] == ["small", "large", "small-16k"]


def test_sync_client_breaking_out_closes_the_upstream_response(acme: Registry) -> None:
    with (
        ScriptedUpstream(handler=echo(["tick "] * 2000, delay=0.001)) as running,
        Client(registry=acme, base_urls={"acme": running.url}) as client,
    ):
        for _ in client.stream("x"):
            break
        connector = client.async_client.session.connector
        assert connector is not None
        assert not connector._acquired  # type: ignore[attr-defined]


def test_sync_client_refuses_to_run_inside_an_event_loop(acme: Registry) -> None:
    client = Client(registry=acme)

    async def inside() -> None:
        with pytest.raises(RuntimeError, match="use AsyncClient"):
            client.complete("x")

    asyncio.run(inside())
    client.close()


def test_sync_stream_is_a_context_manager_that_says_who_answered(acme: Registry) -> None:
    with ScriptedUpstream(handler=echo()) as running:
        with Client(registry=acme, base_urls={"acme": running.url}) as client:
            with client.stream("hi", model="acme/big") as stream:
                text = "".join(stream)
            assert (stream.provider, stream.model) == ("acme", "large")
            assert stream.text_length == len(text) == len(expected("hi"))
            assert stream.attempts == [("acme", "large")]


def test_closing_the_sync_client_closes_a_stream_still_held(acme: Registry) -> None:
    code = f"""
import sys
sys.path[:0] = {sys.path!r}
from chatplug import Client, Registry
from chatplug.testing import ScriptedUpstream
from core_tests_upstream import echo
with ScriptedUpstream(handler=echo(["tick "] * 2000, delay=0.001)) as running:
    with Client(registry=Registry(discover=False), base_urls={{"acme": running.url}}) as client:
        client.async_client.registry.register("acme", __import__("acme_plugin"))
        held = client.stream("x", provider="acme")
        for _ in held:
            break
    print("closed", held._closed)
"""
    import pathlib
    import tempfile

    from .conftest import echo_plugin

    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        (root / "acme_plugin.py").write_text(echo_plugin("acme"))
        (root / "core_tests_upstream.py").write_text(
            (pathlib.Path(__file__).parent / "upstream.py").read_text()
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=folder,
            env={**__import__("os").environ, "PYTHONPATH": folder},
            timeout=60,
        )
    assert out.returncode == 0, out.stderr
    assert "closed True" in out.stdout
    assert "asynchronous generator" not in out.stderr, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
