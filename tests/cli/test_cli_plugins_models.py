"""``chatplug --version``, ``--help``, ``plugins`` and ``models`` as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Callable, Dict, List

import click
from chatplug.cli import ChatplugGroup
from click.testing import CliRunner

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]


def by_name(items: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_version_shows_core_and_plugin_distributions(run_cli: RunCli) -> None:
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    assert first.startswith("chatplug 0.")
    assert "  chatplug-clitest 0.3.1 (providers: clitest)" in rest
    assert "  chatplug-clibroken 0.0.1 (providers: clibroken)" in rest  # never imported


def test_help_lists_every_command(run_cli: RunCli) -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for command in ("chat", "models", "plugins"):
        assert f"  {command} " in result.stdout


def test_every_command_has_help(run_cli: RunCli) -> None:
    for command in ("chat", "models", "plugins"):
        result = run_cli(command, "--help")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Usage: chatplug {command}")


def test_plugins_json_lists_installed_plugins_without_importing_them(run_cli: RunCli) -> None:
    result = run_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = by_name(json.loads(result.stdout))
    assert plugins["clitest"]["distribution"] == "chatplug-clitest"
    assert plugins["clitest"]["version"] == "0.3.1"
    assert plugins["clitest"]["status"] == "available"
    assert plugins["clitest"]["health"] == "ok"
    # the broken plugin raises on import: "available" proves it was not imported
    assert plugins["clibroken"]["status"] == "available"


def test_plugins_check_reports_the_broken_plugin_and_loads_the_others(run_cli: RunCli) -> None:
    result = run_cli("plugins", "--check", "--json")
    plugins = by_name(json.loads(result.stdout))
    assert plugins["clibroken"]["status"] == "failed"
    assert "RuntimeError: this plugin is broken on purpose" in plugins["clibroken"]["error"]
    assert plugins["clitest"]["status"] == "loaded"
    assert plugins["clitest"]["models"] == 2
    assert result.returncode == 15
    assert "Error: 1 plugin(s) failed to load: clibroken" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugins_table_shows_status_and_error(run_cli: RunCli) -> None:
    result = run_cli("plugins", "--check", env={"CHATPLUG_PLUGINS": "clitest,clibroken"})
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    assert rows["NAME"][:5] == ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "HEALTH"]
    assert rows["clitest"][:4] == ["clitest", "chatplug-clitest", "0.3.1", "loaded"]
    assert rows["clibroken"][3] == "failed"
    assert "clibroken: import failed: RuntimeError: this plugin is broken on purpose" in (
        result.stdout
    )


def test_plugins_marks_plugins_left_out_by_chatplug_plugins_disabled(run_cli: RunCli) -> None:
    result = run_cli("plugins", "--json", env={"CHATPLUG_PLUGINS": "clitest"})
    assert result.returncode == 0, result.stderr
    plugins = by_name(json.loads(result.stdout))
    assert plugins["clitest"]["status"] == "available"
    assert plugins["clibroken"]["status"] == "disabled"


def test_plugins_check_passes_when_the_broken_plugin_is_disabled(run_cli: RunCli) -> None:
    result = run_cli("plugins", "--check", "--json", env={"CHATPLUG_PLUGINS": "clitest"})
    assert result.returncode == 0, result.stderr
    assert by_name(json.loads(result.stdout))["clitest"]["status"] == "loaded"


def test_plugins_imports_neither_asyncio_nor_aiohttp_nor_plugins(
    cli_env: Dict[str, str],
) -> None:
    code = (
        "import sys\n"
        "from chatplug.cli import main\n"
        "try:\n"
        "    main(['plugins'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in\n"
        "         ('asyncio', 'aiohttp', 'chatplug_clitest', 'chatplug_clibroken')]\n"
        "print('HEAVY', sorted(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_models_marks_defaults_and_aliases(run_cli: RunCli) -> None:
    result = run_cli("models", "--provider", "clitest")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["MODEL", "DEFAULT", "ALIASES"]
    assert ["clitest/echo-1", "*", "echo"] in rows
    assert ["clitest/echo-2"] in rows


def test_models_json_lists_every_enabled_provider(run_cli: RunCli) -> None:
    result = run_cli("models", "--json", env={"CHATPLUG_PLUGINS": "clitest,clibroken"})
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout)
    assert [m["qualified_id"] for m in models] == ["clitest/echo-1", "clitest/echo-2"]
    assert models[0]["aliases"] == ["echo"]
    assert models[0]["default"] is True and models[1]["default"] is False
    # the broken plugin is reported on stderr, the others still listed
    assert "Warning: plugin 'clibroken' failed to load" in result.stderr


def test_models_of_an_unknown_provider_exits_4_with_a_hint(run_cli: RunCli) -> None:
    result = run_cli("models", "-p", "nosuch", env={"CHATPLUG_PLUGINS": "clitest"})
    assert result.returncode == 4
    error, hint = result.stderr.splitlines()
    assert error.startswith("Error: unknown provider 'nosuch'; available providers: clitest")
    assert hint.startswith("Hint: ")


def test_usage_error_exits_2(run_cli: RunCli) -> None:
    result = run_cli("models", "--no-such-flag")
    assert result.returncode == 2
    assert "No such option" in result.stderr


def lazy_group() -> click.Group:
    group = ChatplugGroup(
        name="demo",
        lazy_commands={
            "ghost": ("chatplug.no_such_module", "command", "A command not installed."),
            "plugins": ("chatplug.cli", "plugins_command", "List plugins."),
            "bad": ("chatplug.cli", "LAZY_COMMANDS", "Not a command."),
        },
    )

    @group.command()
    def hello() -> None:
        click.echo("hello")

    return group


def test_a_lazy_command_whose_module_is_missing_is_hidden() -> None:
    result = CliRunner().invoke(lazy_group(), ["--help"])
    assert result.exit_code == 0
    assert "ghost" not in result.output
    assert "plugins" in result.output and "hello" in result.output


def test_a_missing_lazy_command_explains_itself_and_others_still_work() -> None:
    group = lazy_group()
    result = CliRunner().invoke(group, ["ghost", "--flag"])
    assert result.exit_code == 1
    assert "the 'ghost' command is not available: module chatplug.no_such_module" in (result.output)
    assert CliRunner().invoke(group, ["hello"]).output == "hello\n"


def test_a_lazy_attribute_that_is_not_a_command_explains_itself() -> None:
    result = CliRunner().invoke(lazy_group(), ["bad"])
    assert result.exit_code == 1
    assert "is not a click command" in result.output
