"""``chatplug new-plugin NAME``: the command over :mod:`chatplug.scaffold`'s generator."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from ..scaffold import generate, plugin_names


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory to create the package in (default: ./chatplug-<id>); never overwritten.",
)
def new_plugin_command(name: str, directory: Optional[Path]) -> None:
    """Generate a complete provider plugin package named NAME.

    The package has the hooks, an emulator of the upstream, tests (with the conformance
    suite), a README and a noxfile; it installs and passes its tests as generated.
    """
    try:
        names = plugin_names(name)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="NAME") from None
    try:
        target = generate(names, directory)
    except FileExistsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created {names.dist} (provider id {names.provider!r}) in {target}")
    click.echo("Next steps:")
    click.echo(f"  cd {target}")
    click.echo("  python -m pip install -e '.[test]'")
    click.echo("  python -m pytest            # the plugin's tests and the conformance suite")
    click.echo(f"  then edit src/{names.module}/__init__.py and emulator.py for the real upstream")
