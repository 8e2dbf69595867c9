"""``chatplug check NAME``: the conformance suite on the command line."""

from __future__ import annotations

from typing import Tuple

import click

from ..testing.conformance.runner import run_check, select_checks


@click.command("check")
@click.argument("name")
@click.option(
    "--only", "only", multiple=True, metavar="CHECK", help="Run only this check (repeatable)."
)
@click.option(
    "--skip", "skip", multiple=True, metavar="CHECK", help="Skip this check (repeatable)."
)
def check_command(name: str, only: Tuple[str, ...], skip: Tuple[str, ...]) -> None:
    """Run the plugin conformance suite against the installed provider NAME.

    The plugin's emulator serves on 127.0.0.1 (no network).  Prints PASS or FAIL per check,
    with what is wrong; exits with status 1 when a check fails.
    """
    try:
        checks = select_checks(only, skip)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    failed = 0
    for item in checks:
        result = run_check(item, name)
        if result.passed:
            mark = click.style("PASS", fg="green", bold=True)
            click.echo(f"{mark} {item.name:<16} {item.description} ({result.seconds:.1f}s)")
        else:
            failed += 1
            mark = click.style("FAIL", fg="red", bold=True)
            click.echo(f"{mark} {item.name:<16} {item.description}")
            for line in result.message.splitlines():
                click.echo(f"     {line}")
    total = len(checks)
    summary = f"{name}: {total - failed} of {total} conformance checks passed"
    click.echo(click.style(summary, fg="red" if failed else "green"))
    if failed:
        raise SystemExit(1)
