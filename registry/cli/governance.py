"""The commands that govern releases over time: ``yank`` and ``unyank``."""

from __future__ import annotations

import click

from registry.cli.shared import load_settings, repository_option

__all__ = ["COMMANDS"]


@click.command()
@click.argument("spec", metavar="GROUP:ARTIFACT:VERSION")
@repository_option
@click.option("--reason", default="", metavar="TEXT", help="Why the version is withdrawn (required; recorded).")
def yank(spec: str, repository: str | None, reason: str) -> None:
    """Withdraw a released version from selection in one repository, without deleting anything.

    latest.release, series (1.2), sub-revisions (1.2.+), ranges and Ivy's dynamic revisions (Spark's
    --packages) skip it; its exact coordinate still resolves, with a warning naming the reason. Who, when and
    why are recorded beside the release. 'registry unyank' restores it. The last line printed is the coordinate.
    """
    from registry.yank import yank as yank_version

    done = yank_version(spec, reason=reason, repository=repository, settings=load_settings())
    click.echo(f"Yanked {done.coordinate} in {done.repository}: {done.event.reason}", err=True)
    click.echo(str(done.coordinate))


@click.command()
@click.argument("spec", metavar="GROUP:ARTIFACT:VERSION")
@repository_option
def unyank(spec: str, repository: str | None) -> None:
    """List a yanked version again in one repository, so that selectors see it. The last line is the coordinate."""
    from registry.yank import unyank as unyank_version

    done = unyank_version(spec, repository=repository, settings=load_settings())
    click.echo(f"Unyanked {done.coordinate} in {done.repository}", err=True)
    click.echo(str(done.coordinate))


#: Registered by :mod:`registry.cli`.
COMMANDS = (yank, unyank)
