"""``chatplug config path`` and ``chatplug config show`` (run as the real command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

SECRET = "cl1-Pa55"


def chatplug(*args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chatplug", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_config_path_prints_chatplug_config(isolated_env: Path) -> None:
    result = chatplug("config", "path")
    assert result.returncode == 0
    assert result.stdout.strip() == str(isolated_env)
    assert "does not exist" in result.stderr


def test_config_path_defaults_to_the_user_config_dir(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    result = subprocess.run(
        [sys.executable, "-m", "chatplug", "config", "path"],
        env={k: v for k, v in {**os.environ, **env}.items() if k != "CHATPLUG_CONFIG"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == str(tmp_path / "xdg" / "chatplug" / "chatplug.toml")


def test_config_show_merges_the_environment_and_masks_secrets(isolated_env: Path) -> None:
    isolated_env.write_text(
        "[defaults]\n"
        f'proxy = "socks5h://alice:{SECRET}@127.0.0.1:1080"\n'
        "[providers.local]\n"
        'plugin = "openai"\n'
        'base_url = "http://127.0.0.1:11434/v1"\n'
        f'api_key = "{SECRET}"\n'
        'api_key_env = "LOCAL_KEY"\n'
    )
    env = {
        "CHATPLUG_LOCAL_BASE_URL": "http://127.0.0.1:8080/v1",
        "HTTPS_PROXY": f"http://bob:{SECRET}@corp:3128",
    }
    result = chatplug("config", "show", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert SECRET not in out and SECRET not in result.stderr
    assert 'base_url = "http://127.0.0.1:8080/v1"  # env CHATPLUG_LOCAL_BASE_URL' in out
    assert 'api_key = "***"' in out and 'api_key_env = "LOCAL_KEY"' in out
    assert "socks5h://***@127.0.0.1:1080" in out
    assert "# env HTTPS_PROXY = http://***@corp:3128" in out

    shown = json.loads(chatplug("config", "show", "--json", env=env).stdout)
    assert shown["providers"]["local"]["sources"]["base_url"] == "env CHATPLUG_LOCAL_BASE_URL"
    assert SECRET not in json.dumps(shown)


def test_config_show_masks_a_bearer_header_of_a_plugin_setting(isolated_env: Path) -> None:
    isolated_env.write_text(
        "[providers.local]\n"
        'plugin = "openai"\n'
        'base_url = "http://127.0.0.1:11434/v1"\n'
        f'headers = {{ X-Gateway = "Bearer {SECRET}", Authorization = "{SECRET}" }}\n'
    )
    for args in (("config", "show"), ("config", "show", "--json")):
        result = chatplug(*args)
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout
        assert "Bearer ***" in result.stdout


def test_config_show_names_the_path_of_a_missing_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CHATPLUG_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    result = subprocess.run(
        [sys.executable, "-m", "chatplug", "config", "show"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"# file: {tmp_path / 'xdg' / 'chatplug' / 'chatplug.toml'}" in result.stdout
    assert "does not exist" in result.stdout


def test_config_show_reports_a_bad_file_without_a_traceback(isolated_env: Path) -> None:
    isolated_env.write_text('[providers.local]\nbase_url = "http://ok"\ntimeout = "soon"\n')
    result = chatplug("config", "show")
    assert result.returncode == 12
    assert "Traceback" not in result.stderr
    assert f"{isolated_env}: [providers.local] timeout" in result.stderr
    assert "a number" in result.stderr


def test_config_show_reports_unparseable_toml_with_its_line(isolated_env: Path) -> None:
    isolated_env.write_text('[defaults]\nmodel = "x"\nproxy = = 1\n')
    result = chatplug("config", "show")
    assert result.returncode == 12
    assert "invalid TOML" in result.stderr and "line 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_show_prints_unknown_keys_as_warnings(isolated_env: Path) -> None:
    isolated_env.write_text('[defaults]\nmodle = "x"\n')
    result = chatplug("config", "show")
    assert result.returncode == 0
    assert "warning:" in result.stderr and "unknown key 'modle'" in result.stderr


def test_a_bad_file_makes_chatplug_chat_fail_cleanly(isolated_env: Path) -> None:
    isolated_env.write_text("[providers.nope]\nenabled = true\n")
    result = chatplug("chat", "hello", env={"CHATPLUG_PLUGINS": "none"})
    assert result.returncode == 12, result.stderr
    assert "unknown provider 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_show_masks_secret_options(isolated_env: Path) -> None:
    isolated_env.write_text(
        "[providers.local]\n"
        'plugin = "openai"\n'
        f'options = {{ api_key = "{SECRET}", max_tokens = 64 }}\n'
    )
    for args in (("config", "show"), ("config", "show", "--json")):
        result = chatplug(*args)
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout
    shown = json.loads(chatplug("config", "show", "--json").stdout)
    assert shown["providers"]["local"]["options"] == {"api_key": "***", "max_tokens": 64}


def test_config_show_masks_a_proxy_password_holding_a_slash(isolated_env: Path) -> None:
    result = chatplug("config", "show", env={"HTTPS_PROXY": f"http://bob:{SECRET}/x@corp:3128"})
    assert SECRET not in result.stdout + result.stderr
    assert "# env HTTPS_PROXY = http://***@corp:3128" in result.stdout


def limited(*args: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
    """``chatplug`` in at most 2 GiB of address space: an unbounded read fails fast instead
    of filling the machine's memory."""

    def limit_memory() -> None:
        import resource

        two_gib = 2 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (two_gib, two_gib))

    return subprocess.run(
        [sys.executable, "-m", "chatplug", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
    )


@pytest.mark.skipif(sys.platform == "win32" or not Path("/dev/zero").exists(), reason="POSIX")
def test_an_endless_configuration_file_is_a_configuration_error() -> None:
    result = limited("plugins", env={"CHATPLUG_CONFIG": "/dev/zero"})
    assert result.returncode == 12, result.stderr
    assert "/dev/zero: the configuration file is larger than 1024 KiB" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_deeply_nested_file_is_a_configuration_error_naming_the_line(
    isolated_env: Path,
) -> None:
    isolated_env.write_text(
        '[defaults]\nmodel = "m"\n[providers.openai]\nx = ' + "{a = " * 500 + "1" + "}" * 500
    )
    result = chatplug("plugins")
    assert result.returncode == 12, result.stderr
    assert f"{isolated_env}: line 4: tables and arrays nest more than" in result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
