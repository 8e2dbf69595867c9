"""Serving an emulator alone: ``python -m <plugin>.emulator --port N`` (emulator_main)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from chatplug.testing import emulator_process

MODULE = """
from aiohttp import web
from chatplug.emulation import BASE_PATH, emulator_main

def create_app():
    async def hello(request):
        return web.Response(text="hello ✓")

    app = web.Application()
    app[BASE_PATH] = "/v1"
    app.router.add_get("/v1/hello", hello)
    return app

if __name__ == "__main__":
    emulator_main("Acme emulator", create_app, port=8080)
"""


@pytest.fixture
def acme_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "acme_emulator.py").write_text(MODULE, encoding="utf-8")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    )
    return "acme_emulator"


def test_the_emulator_announces_its_base_url_once_it_listens(acme_emulator: str) -> None:
    with emulator_process(acme_emulator) as served:
        assert served.line == f"Acme emulator on http://127.0.0.1:{served.port}/v1"
        with urllib.request.urlopen(served.url + "/hello", timeout=10) as response:
            assert response.read().decode() == "hello ✓"


def test_the_help_names_the_host_and_port_options(acme_emulator: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", acme_emulator, "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--host" in done.stdout and "--port" in done.stdout
