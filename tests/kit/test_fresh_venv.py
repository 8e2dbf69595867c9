"""Done-when: a generated plugin installs in a fresh venv with the core and passes its tests
and the conformance suite unchanged; broken, it fails them with a message saying what is wrong.
A plugin generated for contract 0.1 (``legacy_plugin/``, text only), installed beside it from
its own package, still passes its tests and the whole suite.

Slow (a virtualenv and an install); packages come from the package registry or the local
cache of ``uv`` (used when available, else ``venv`` + ``pip``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from chatplug.testing.conformance import CHECK_NAMES

pytestmark = [pytest.mark.slow]
try:  # building the venv may download packages: allow more than the default per-test limit
    import pytest_timeout  # noqa: F401

    pytestmark.append(pytest.mark.timeout(900))
except ImportError:  # pragma: no cover
    pass

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
NAME = "Fresh-Acme"
PROVIDER = "fresh-acme"
MODULE = "chatplug_fresh_acme"
LEGACY = Path(__file__).resolve().parent / "legacy_plugin"
LEGACY_PROVIDER = "legacy-acme"


def _env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CHATPLUG_"))}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env["NO_COLOR"] = "1"
    return env


def _run(args: List[str], cwd: Path, timeout: float = 300) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def _uv() -> "str | None":
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else None


def _make_venv(venv: Path, packages: List[str]) -> Path:
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    uv = _uv()
    if uv:
        steps = [
            [uv, "venv", "-q", str(venv), "--python", sys.executable],
            [uv, "pip", "install", "-q", "--python", str(python), *packages],
        ]
    else:  # pragma: no cover - depends on the machine
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "-q", *packages],
        ]
    for step in steps:
        done = _run(step, venv.parent)
        assert done.returncode == 0, f"{step[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Path, Path]]:
    """(python of the fresh venv, the generated plugin's directory, installed editable);
    the 0.1 plugin is installed too (a regular install from a copy of its directory)."""
    base = tmp_path_factory.mktemp("fresh")
    plugin = base / "chatplug-fresh-acme"
    made = _run([sys.executable, "-m", "chatplug", "new-plugin", NAME, "--dir", str(plugin)], base)
    assert made.returncode == 0, made.stdout + made.stderr
    legacy = shutil.copytree(LEGACY, base / "chatplug-legacy-acme")
    python = _make_venv(base / "venv", [str(CORE), "-e", str(plugin), str(legacy), "pytest"])
    yield python, plugin


def _pytest(python: Path, plugin: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    return _run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-v", *args], plugin)


@contextlib.contextmanager
def _patched(plugin: Path, old: str, new: str) -> Iterator[None]:
    """Edit the installed (editable) plugin's module for the block, then restore it."""
    path = plugin / "src" / MODULE / "__init__.py"
    original = path.read_text(encoding="utf-8")
    assert old in original, f"the template changed: {old!r}"
    path.write_text(original.replace(old, new), encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(original, encoding="utf-8")


def test_the_generated_plugin_passes_its_tests_and_the_conformance_suite(
    installed: Tuple[Path, Path],
) -> None:
    python, plugin = installed
    done = _pytest(python, plugin)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b\d+ passed\b", done.stdout)
    assert "failed" not in done.stdout.splitlines()[-1]
    for check in CHECK_NAMES:
        assert f"test_conformance.py::test_conformance[{check}] PASSED" in done.stdout
    for test in ("test_the_answer_reports_usage_finish_and_response", "test_the_emulator_stops_at"):
        assert f"test_plugin.py::{test}" in done.stdout


def test_the_generated_plugin_requires_contract_0_2(installed: Tuple[Path, Path]) -> None:
    _, plugin = installed
    assert 'dependencies = ["chatplug>=0.2,<1"]' in (plugin / "pyproject.toml").read_text()


def test_an_installed_0_1_plugin_passes_its_tests_and_the_conformance_suite(
    installed: Tuple[Path, Path],
) -> None:
    python, plugin = installed
    legacy = plugin.parent / "chatplug-legacy-acme"
    done = _pytest(python, legacy)
    checked = _run([str(python), "-m", "chatplug", "check", LEGACY_PROVIDER], legacy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed" not in done.stdout.splitlines()[-1]
    for check in CHECK_NAMES:
        assert f"test_conformance.py::test_conformance[{check}] PASSED" in done.stdout
    total = len(CHECK_NAMES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{LEGACY_PROVIDER}: {total} of {total} conformance checks passed" in checked.stdout


def test_chatplug_check_passes_the_installed_plugin(installed: Tuple[Path, Path]) -> None:
    python, plugin = installed
    done = _run([str(python), "-m", "chatplug", "check", PROVIDER], plugin)
    assert done.returncode == 0, done.stdout + done.stderr
    total = len(CHECK_NAMES)
    assert f"{PROVIDER}: {total} of {total} conformance checks passed" in done.stdout


def test_pytest_option_runs_the_suite_for_an_installed_provider(
    installed: Tuple[Path, Path], tmp_path: Path
) -> None:
    python, _ = installed
    done = _run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "--chatplug", PROVIDER], tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(CHECK_NAMES)} passed" in done.stdout


def test_a_wrong_payload_fails_the_conformance_suite_saying_why(
    installed: Tuple[Path, Path],
) -> None:
    python, plugin = installed
    with _patched(plugin, '"prompt": request.prompt,', '"message": request.prompt,'):
        done = _pytest(python, plugin, "tests/test_conformance.py")
        checked = _run([str(python), "-m", "chatplug", "check", PROVIDER], plugin)
    assert done.returncode == 1
    assert "test_conformance[emulator_answer] FAILED" in done.stdout
    assert "the emulator rejected the plugin's request with HTTP 400" in done.stdout
    assert "unknown fields: message" in done.stdout
    assert checked.returncode == 1
    assert re.search(r"^FAIL emulator_answer", checked.stdout, re.MULTILINE)
    assert "unknown fields: message" in checked.stdout


def test_a_swallowed_error_fails_the_conformance_suite_saying_why(
    installed: Tuple[Path, Path],
) -> None:
    python, plugin = installed
    wrapper = """

@hookimpl
async def stream_completion(request, session):  # "robust": hides every error
    try:
        async for piece in _stream(request, session):
            yield piece
    except Exception:
        return
"""
    path = plugin / "src" / MODULE / "__init__.py"
    with _patched(plugin, "@hookimpl\nasync def stream_completion(", "async def _stream("):
        path.write_text(path.read_text(encoding="utf-8") + wrapper, encoding="utf-8")
        done = _pytest(python, plugin, "tests/test_conformance.py")
    assert done.returncode == 1
    assert "test_conformance[http_500] FAILED" in done.stdout
    assert "swallows the HTTP error" in done.stdout
    assert "test_conformance[truncated] FAILED" in done.stdout
    assert "but the plugin returned a normal answer" in done.stdout
