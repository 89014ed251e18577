"""The ``registry`` command: a thin layer over the library.

Each command builds settings, calls one library function and prints the result; the last line of stdout is what
scripts parse (the coordinate for ``deploy``, the path for ``resolve``). Every :class:`RegistryError` becomes one
line on stderr and a non-zero exit code in :func:`main`; a traceback is a bug. Nothing here imports pyspark.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from registry.exceptions import InvalidInput, RegistryError

__all__ = ["cli", "main"]

#: Exit codes: 1 for a failure of the operation, 2 for bad input (as click uses for usage errors).
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

_repository_option = click.option(
    "--repository",
    "-r",
    envvar="REGISTRY_REPOSITORY",
    metavar="NAME|URL|PATH",
    help="A configured repository name, an http(s):// or file:// URL, or a path. [env: REGISTRY_REPOSITORY]",
)


def _settings() -> Any:
    from registry.config import Settings

    return Settings.load()


def _parse_metrics(values: tuple[str, ...]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for item in values:
        name, sep, number = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            metrics[name.strip()] = float(number)
        except ValueError:
            raise InvalidInput(f"Invalid metric {item!r}: expected NAME=NUMBER, e.g. --metric auc=0.91") from None
    return metrics


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="registry", prog_name="registry")
def cli() -> None:
    """Release Spark ML models as immutable Maven artifacts (GROUP:ARTIFACT:MAJOR.MINOR.BUILD)."""


@cli.command()
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.argument("coordinate")
@_repository_option
@click.option("--metric", "metrics", multiple=True, metavar="NAME=NUMBER", help="A metric to record; repeatable.")
@click.option("--description", default="", help="Free text recorded in the model card and the POM.")
@click.option("--label", "labels", multiple=True, help="A label to record (e.g. prod-candidate); repeatable.")
def deploy(
    path: Path,
    coordinate: str,
    repository: str | None,
    metrics: tuple[str, ...],
    description: str,
    labels: tuple[str, ...],
) -> None:
    """Deploy the model saved in PATH as COORDINATE.

    COORDINATE is GROUP:ARTIFACT:MAJOR.MINOR to be assigned the next build (com.acme:churn:1.0 gives
    com.acme:churn:1.0.0, then 1.0.1, ...), or an exact new GROUP:ARTIFACT:MAJOR.MINOR.BUILD.
    The last line printed is the coordinate deployed.
    """
    from registry.coordinates import DeployTarget
    from registry.deploy import deploy as deploy_model
    from registry.modelcard import ModelCard, code_lineage

    target = DeployTarget.parse(coordinate)
    card = ModelCard.create(
        str(target),
        description=description,
        labels=list(labels),
        metrics=_parse_metrics(metrics),
        code=code_lineage(),
    )
    settings = _settings()
    released = deploy_model(path, target, repository=repository, settings=settings, card=card)
    click.echo(f"Deployed {path} to {settings.repository(repository).display}", err=True)
    click.echo(str(released))


@cli.command()
@click.argument("artifact", metavar="GROUP:ARTIFACT")
@_repository_option
def versions(artifact: str, repository: str | None) -> None:
    """List the released versions of GROUP:ARTIFACT, oldest first, one per line."""
    from registry.config import open_repository
    from registry.coordinates import Module
    from registry.deploy import read_metadata

    module = Module.parse(artifact)
    with open_repository(repository, _settings()) as repo:
        metadata = read_metadata(repo, module)
    if metadata is None:
        click.echo(f"{module} has no released versions in {repo.display}.", err=True)
        return
    for version in metadata.releases:
        click.echo(str(version))
    if metadata.foreign:
        click.echo(f"(not listed: {', '.join(metadata.foreign)}, not of the form MAJOR.MINOR.BUILD)", err=True)


@cli.command()
@click.argument("spec", metavar="GROUP:ARTIFACT:SELECTOR")
@_repository_option
@click.option(
    "--to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Extract the model into this new (or empty) directory instead of the cache.",
)
def resolve(spec: str, repository: str | None, to: Path | None) -> None:
    """Resolve a model and print the path of its extracted directory (the last line).

    SELECTOR is an exact version (1.0.3), a series (1.0 = newest 1.0.x), an Ivy sub-revision (1.0.+, 1.+),
    latest.release, or a range ([1.0,2.0), [1.0,)).
    """
    from registry.resolve import resolve as resolve_model

    resolved = resolve_model(spec, repository=repository, settings=_settings(), to=to)
    click.echo(f"Resolved {resolved.coordinate}", err=True)
    click.echo(str(resolved.path))


@cli.command()
@click.argument("spec", metavar="GROUP:ARTIFACT:VERSION")
@click.option("--from", "source", required=True, metavar="NAME|URL|PATH", help="The repository to copy from.")
@click.option("--to", "target", required=True, metavar="NAME|URL|PATH", help="The repository to copy to.")
@click.option(
    "--require",
    "gates",
    multiple=True,
    metavar="METRIC>=NUMBER",
    help="A quality gate the model card must pass (>= > <= < == !=); repeatable. 'rows' is the training rows.",
)
def promote(spec: str, source: str, target: str, gates: tuple[str, ...]) -> None:
    """Copy a released version byte for byte from one repository to another, verified on both sides.

    SPEC may be a selector (com.acme:churn:latest.release), resolved in the source. The last line printed is
    the coordinate promoted.
    """
    from registry.gates import parse_gate
    from registry.promote import promote as promote_version

    parsed = [parse_gate(g) for g in gates]  # bad gates are refused before anything is read
    done = promote_version(spec, source=source, target=target, gates=parsed, settings=_settings())
    for result in done.gates:
        click.echo(f"gate {result}", err=True)
    if done.already_present:
        click.echo(f"{done.coordinate} is already in {done.target} with identical bytes: nothing to do.", err=True)
    else:
        click.echo(
            f"Promoted {done.coordinate} ({len(done.files)} files) from {done.source} to {done.target}", err=True
        )
    click.echo(str(done.coordinate))


@cli.command()
def repos() -> None:
    """List the configured repositories (credentials masked) and which one is the default."""
    from registry.config import mask_url

    settings = _settings()
    default = settings.repository(None)
    click.echo(f"default: {default.display}")
    for name, config in sorted(settings.repositories.items()):
        found = settings.credentials(config)
        auth = f"credentials from {found.source}" if found else "no credentials"
        click.echo(f"{name}\t{mask_url(config.url)}\t{auth}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every RegistryError into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="registry", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RegistryError as exc:
        click.echo(f"registry: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT if isinstance(exc, InvalidInput) else EXIT_FAILURE)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
