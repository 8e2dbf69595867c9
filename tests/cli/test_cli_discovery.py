"""Entry points are read through importlib-metadata, wherever the distribution lives."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict


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


def test_a_plugin_in_a_zip_on_the_path_is_discovered(
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
        "print([e.name for e in registry.entry_points(registry.ENTRY_POINT_GROUP)])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "'zipped'" in result.stdout and "'clitest'" in result.stdout
