"""``chatplug config path`` and ``chatplug config show``: where the configuration file is,
and the merged settings (file + environment) with the source of each, secrets masked."""

from __future__ import annotations

import os

import click

from ..config import CONFIG_ENV, ConfigWarning, config_path, load_config
from ..config.display import effective, render
from .errors import run_guarded
from .output import json_text


@click.group(name="config")
def config_command() -> None:
    """Where the configuration file is, and what it sets."""


@config_command.command(name="path")
def path_command() -> None:
    """Print the configuration file's path ($CHATPLUG_CONFIG or the user config dir)."""
    path = config_path()
    if path is None:
        click.echo(f"(none: {CONFIG_ENV} is set to an empty value)")
        return
    click.echo(str(path))
    if not path.exists():
        click.echo("(the file does not exist yet)", err=True)


@config_command.command(name="show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
def show_command(as_json: bool) -> None:
    """Print the merged settings (file + environment), secrets masked."""

    def show() -> None:
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConfigWarning)
            shown = effective(load_config(), os.environ)
        path = config_path()
        if path is not None and not path.exists():  # say where the file would be
            shown["file"], shown["exists"] = str(path), False
        for warning in caught:
            click.echo(f"warning: {warning.message}", err=True)
        if as_json:
            click.echo(json_text(shown))
        else:
            click.echo(render(shown), nl=False)

    run_guarded(show)
