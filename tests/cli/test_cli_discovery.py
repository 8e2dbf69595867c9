"""``chatplug plugins`` reads entry points without ``importlib.metadata`` (for start-up
time); what it reads must be exactly what ``importlib.metadata`` reports."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict

CODE = """
import sys
from chatplug import registry
if sys.version_info >= (3, 10):
    from importlib import metadata
else:
    import importlib_metadata as metadata

def described(entries):
    return [(e.name, e.value, e.dist.metadata["Name"], e.dist.version) for e in entries]

for group in (registry.ENTRY_POINT_GROUP, registry.EMULATOR_GROUP, "console_scripts"):
    fast = registry._scan_entry_points(group)
    assert fast is not None, "the fast path was not taken"
    found = {}
    for entry in metadata.entry_points(group=group):
        found.setdefault(entry.name, entry)
    slow = [found[name] for name in sorted(found)]
    assert described(fast) == described(slow), (group, described(fast), described(slow))
    print(group, len(fast))
"""


def test_fast_entry_point_scan_matches_importlib_metadata(cli_env: Dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=cli_env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    counts = dict(line.split() for line in result.stdout.splitlines())
    assert int(counts["chatplug.providers"]) >= 2  # at least the two test plugins


def test_entry_points_load_like_importlib_metadata(cli_env: Dict[str, str]) -> None:
    code = (
        "from chatplug.registry import EMULATOR_GROUP, entry_points\n"
        "[entry] = [e for e in entry_points(EMULATOR_GROUP) if e.name == 'clitest']\n"
        "factory = entry.load()\n"
        "print(factory.__module__, factory.__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["chatplug_clitest", "emulator"]


def test_a_zip_on_the_path_falls_back_to_importlib_metadata(
    cli_env: Dict[str, str], tmp_path: object
) -> None:
    import zipfile
    from pathlib import Path

    archive = Path(str(tmp_path)) / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("chatplug_zipped.py", "")
        zipped.writestr(
            "chatplug_zipped-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: chatplug-zipped\nVersion: 1.0\n",
        )
        zipped.writestr(
            "chatplug_zipped-1.0.dist-info/entry_points.txt",
            "[chatplug.providers]\nzipped = chatplug_zipped\n",
        )
    env = {**cli_env, "PYTHONPATH": os.pathsep.join([str(archive), cli_env["PYTHONPATH"]])}
    code = (
        "from chatplug import registry\n"
        "assert registry._scan_entry_points(registry.ENTRY_POINT_GROUP) is None\n"
        "print([e.name for e in registry.entry_points(registry.ENTRY_POINT_GROUP)])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "'zipped'" in result.stdout and "'clitest'" in result.stdout
