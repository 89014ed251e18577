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

from registry.cli_monitor import monitor
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


cli.add_command(monitor)


@cli.command()
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.argument("coordinate")
@_repository_option
@click.option("--metric", "metrics", multiple=True, metavar="NAME=NUMBER", help="A metric to record; repeatable.")
@click.option("--description", default="", help="Free text recorded in the model card and the POM.")
@click.option("--label", "labels", multiple=True, help="A label to record (e.g. prod-candidate); repeatable.")
@click.option("--allow-change", is_flag=True, help="Deploy into the series even if the model's configuration differs.")
def deploy(
    path: Path,
    coordinate: str,
    repository: str | None,
    metrics: tuple[str, ...],
    description: str,
    labels: tuple[str, ...],
    allow_change: bool,
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
    released = deploy_model(
        path, target, repository=repository, settings=settings, card=card, allow_change=allow_change
    )
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


@cli.command()
@_repository_option
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

    config = _settings().repository(repository)
    if out is None:
        click.echo(render_ivysettings(config, realm=realm or NEXUS_REALM), nl=False)
        return
    written = write_ivysettings(config, out, realm=realm or NEXUS_REALM)
    click.echo(f"Wrote Ivy settings for {config.display}", err=True)
    click.echo(str(written))


def _print(renderable: Any) -> None:
    from rich.console import Console

    Console(soft_wrap=False).print(renderable)


@cli.command()
@click.argument("spec", metavar="COORDINATE")
@_repository_option
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON, with its promotion record.")
def show(spec: str, repository: str | None, as_json: bool) -> None:
    """Show the model card of a version: who deployed it when, code, data, params per stage, metrics, promotion.

    COORDINATE is GROUP:ARTIFACT:VERSION or a selector such as com.acme:churn:latest.release.
    """
    import json

    from registry.cards import read_card

    record = read_card(spec, repository=repository, settings=_settings())
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=2, sort_keys=True))
        return
    from registry.terminal import card_view

    _print(card_view(record))


@cli.command()
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@_repository_option
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff(first: str, second: str, repository: str | None, as_json: bool) -> None:
    """Compare two versions: params per stage, metrics with deltas, input schema, training data, stages, code.

    A is GROUP:ARTIFACT:VERSION or a selector; B is the same, or just a version or selector of A's artifact
    (registry diff com.acme:churn:1.0.2 1.0.3).
    """
    from registry.diff import diff as diff_versions

    _, _, changes = diff_versions(first, second, repository=repository, settings=_settings())
    if as_json:
        click.echo(changes.to_json())
        return
    from registry.terminal import diff_view

    _print(diff_view(changes))


@cli.command()
@click.argument("artifact", metavar="GROUP:ARTIFACT")
@_repository_option
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A param of any stage; repeatable.")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME>NUMBER",
    help="A metric condition such as 'auc>0.8' (> >= < <= == !=; 'rows' is the training rows); repeatable.",
)
@click.option("--dataset", metavar="FINGERPRINT|PATH", help="Training data fingerprint (prefix) or source (part).")
@click.option("--label", "labels", multiple=True, help="A label the card must have; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the matching cards as a JSON list.")
def search(
    artifact: str,
    repository: str | None,
    params: tuple[str, ...],
    metrics: tuple[str, ...],
    dataset: str | None,
    labels: tuple[str, ...],
    as_json: bool,
) -> None:
    """List the versions of GROUP:ARTIFACT whose cards match every criterion, newest first.

    Example: registry search com.acme:churn --param maxDepth=10 --metric 'auc>0.8' --label prod
    """
    import json

    from registry.search import Query
    from registry.search import search as search_cards

    query = Query.parse(params, metrics, dataset, labels)  # bad criteria are refused before anything is read
    found = search_cards(artifact, query, repository=repository, settings=_settings())
    if as_json:
        click.echo(json.dumps([record.to_dict() for record in found], indent=2, sort_keys=True))
        return
    if not found:
        click.echo("No version matches.", err=True)
        return
    from registry.terminal import search_view

    _print(search_view(found))


@cli.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="The site directory.")
@_repository_option
@click.option("--artifact", "artifacts", multiple=True, metavar="GROUP:ARTIFACT", help="Only these; repeatable.")
@click.option("--monitor", "report", type=click.Path(dir_okay=False, path_type=Path), help="Show this drift report.")
def catalog(out: Path, repository: str | None, artifacts: tuple[str, ...], report: Path | None) -> None:
    """Write a static HTML catalog of the repository's models (no JavaScript; opens from file://).

    Without --artifact, every artifact in the repository is found by walking its folders. OUT must be new,
    empty, or a catalog written before (it is replaced). The last line printed is the path of index.html.
    With --monitor REPORT (written by 'registry monitor PATH --json'), versions show their drift.
    """
    from registry.catalog import build_catalog
    from registry.drift import DriftReport

    monitored = DriftReport.read(report) if report is not None else None
    index = build_catalog(out, repository=repository, settings=_settings(), artifacts=artifacts, monitored=monitored)
    click.echo(str(index))


@cli.command()
@click.argument("artifacts", nargs=-1, metavar="[GROUP:ARTIFACT]...")
@_repository_option
@click.option("--repair", is_flag=True, help="List complete unlisted versions; delete stale leftovers of dead deploys.")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="Leftovers written more recently may belong to a running deploy and are left alone.",
)
def fsck(artifacts: tuple[str, ...], repository: str | None, repair: bool, min_age: float) -> None:
    """Check version folders against maven-metadata.xml and checksums (every artifact, or those given).

    One line per finding, then a summary line. Corrupt or missing files are reported, never repaired.
    Exit code 0 when nothing is wrong (or everything was repaired), 1 otherwise.
    """
    from registry.config import open_repository
    from registry.coordinates import Module
    from registry.fsck import check

    modules = [Module.parse(text) for text in artifacts] or None
    with open_repository(repository, _settings()) as repo:
        report = check(repo, modules, repair=repair, min_age=min_age)
    for finding in report.findings:
        click.echo(str(finding))
    click.echo(report.summary())
    if not report.clean:
        sys.exit(EXIT_FAILURE)


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
