"""The commands that look after repositories: ``fsck``, ``repos``, ``ivysettings``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from registry.cli.shared import EXIT_FAILURE, duration_option, load_settings, repository_option

__all__ = ["COMMANDS"]


@click.command()
@click.argument("artifacts", nargs=-1, metavar="[GROUP:ARTIFACT]...")
@repository_option
@click.option(
    "--repair",
    is_flag=True,
    help="List complete unlisted versions; delete stale leftovers of dead deploys; write a missing promotion log.",
)
@duration_option(
    "--min-age",
    default=3600.0,
    unit="SECONDS",
    what="Leftovers written more recently may belong to a running deploy and are left alone.",
)
def fsck(artifacts: tuple[str, ...], repository: str | None, repair: bool, min_age: float) -> None:
    """Check version folders against maven-metadata.xml and checksums (every artifact, or those given).

    One line per finding, then a summary line. Corrupt or missing files are reported, never repaired.
    Exit code 0 when nothing is wrong (or everything was repaired), 1 otherwise.
    """
    from registry.coordinates import Module
    from registry.fsck import check
    from registry.settings import open_repository

    modules = [Module.parse(text) for text in artifacts] or None
    with open_repository(repository, load_settings()) as repo:
        report = check(repo, modules, repair=repair, min_age=min_age)
    for finding in report.findings:
        click.echo(str(finding))
    click.echo(report.summary())
    if not report.clean:
        sys.exit(EXIT_FAILURE)


@click.command()
def repos() -> None:
    """List the configured repositories (credentials masked) and which one is the default."""
    from registry._util import mask_url

    settings = load_settings()
    default = settings.repository(None)
    click.echo(f"default: {default.display}")
    for name, config in sorted(settings.repositories.items()):
        found = settings.credentials(config) if config.scheme != "s3" else None
        auth = f"credentials from {found.source}" if found else "no credentials"
        if config.scheme == "s3":  # boto3's own chain; asking it here would import boto3
            auth = f"AWS credentials from profile {config.profile!r}" if config.profile else "AWS credential chain"
        click.echo(f"{name}\t{mask_url(config.url)}\t{auth}")


@click.command()
@repository_option
@click.option(
    "--realm",
    help="The server's authentication realm, matched exactly by Ivy. [default: Sonatype Nexus Repository Manager]",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the settings to this file (its path is the last line printed) instead of printing them.",
)
def ivysettings(repository: str | None, realm: str | None, out: Path | None) -> None:
    """Print (or write) the ivysettings.xml with which Spark's --packages resolves models from the repository.

    Use it as: spark-submit --conf spark.jars.ivySettings=FILE --packages com.acme:churn:latest.release ...
    The file holds no credential: Spark's Ivy reads REGISTRY_USERNAME and REGISTRY_PASSWORD from the environment.
    """
    from registry.ivysettings import NEXUS_REALM, render_ivysettings, write_ivysettings

    config = load_settings().repository(repository)
    if out is None:
        click.echo(render_ivysettings(config, realm=realm or NEXUS_REALM), nl=False)
        return
    written = write_ivysettings(config, out, realm=realm or NEXUS_REALM)
    click.echo(f"Wrote Ivy settings for {config.display}", err=True)
    click.echo(str(written))


#: Registered by :mod:`registry.cli`.
COMMANDS = (
    fsck,
    repos,
    ivysettings,
)
