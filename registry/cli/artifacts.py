"""The commands that move artifacts: ``deploy``, ``versions``, ``resolve``, ``promote``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from registry.cli.shared import gate_option, load_settings, repository_option
from registry.cli.signatures import sign_option, signing_key
from registry.exceptions import ConfigError, InvalidInput, NotPortable

if TYPE_CHECKING:
    from registry.coordinates import Coordinate, DeployTarget

__all__ = ["COMMANDS"]


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


@click.command()
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.argument("coordinate")
@repository_option
@click.option("--metric", "metrics", multiple=True, metavar="NAME=NUMBER", help="A metric to record; repeatable.")
@click.option("--description", default="", help="Free text recorded in the model card and the POM.")
@click.option("--label", "labels", multiple=True, help="A label to record (e.g. prod-candidate); repeatable.")
@click.option("--allow-change", is_flag=True, help="Deploy into the series even if the model's configuration differs.")
@sign_option
@click.option(
    "--portable",
    type=click.Choice(["onnx", "auto"]),
    help="Attach an ONNX twin proven equal to Spark (onnx: or fail; auto: or release without one). "
    "Default: the repository's `portable` setting, else none.",
)
@click.option(
    "--parity-data",
    metavar="PATH",
    help="With --portable: the rows (parquet, CSV or JSON, by extension) the twin is proven equal to Spark on.",
)
def deploy(
    path: Path,
    coordinate: str,
    repository: str | None,
    metrics: tuple[str, ...],
    description: str,
    labels: tuple[str, ...],
    allow_change: bool,
    sign: str | None,
    portable: str | None,
    parity_data: str | None,
) -> None:
    """Deploy the model saved in PATH as COORDINATE.

    COORDINATE is GROUP:ARTIFACT:MAJOR.MINOR to be assigned the next build (com.acme:churn:1.0 gives
    com.acme:churn:1.0.0, then 1.0.1, ...), or an exact new GROUP:ARTIFACT:MAJOR.MINOR.BUILD.
    The last line printed is the coordinate deployed. With --portable (or the repository's `portable`
    setting) a local Spark session loads the pipeline to convert it to ONNX and check it on --parity-data.
    """
    from registry.coordinates import DeployTarget
    from registry.deploy import deploy as deploy_model

    target = DeployTarget.parse(coordinate)
    parsed = _parse_metrics(metrics)
    settings = load_settings()
    options: dict[str, Any] = {
        "repository": repository,
        "settings": settings,
        "metrics": parsed,
        "description": description,
        "labels": labels,
        "code": "git",
        "allow_change": allow_change,
        "sign": signing_key(sign),
    }
    asked = "--portable" if portable else "The repository's `portable` setting"
    config = settings.repository(repository)  # parsed once: for its portable setting, then to say where it went
    portable = portable or config.portable
    if portable == "onnx" and parity_data is None:
        raise NotPortable(
            f"{asked} asks for an ONNX twin, which is proven equal to Spark on data: pass --parity-data PATH "
            "(parquet, CSV or JSON with the columns the model reads), or --portable auto to release without a twin. "
            "Nothing was released."
        )
    if portable == "auto" and parity_data is None:
        click.echo("warning: released without an ONNX twin: no --parity-data to prove it equal to Spark.", err=True)
    if portable is None or parity_data is None:
        released = deploy_model(path, target, **options)
    else:
        released = _deploy_with_twin(path, target, portable, parity_data, options)
    click.echo(f"Deployed {path} to {config.display}", err=True)
    click.echo(str(released))


def _deploy_with_twin(
    path: Path, target: DeployTarget, portable: str, parity_data: str, options: dict[str, Any]
) -> Coordinate:
    """``registry deploy --portable``: in a local Spark session started now (pyspark is not imported before)."""
    import importlib.util
    import warnings

    if importlib.util.find_spec("pyspark") is None:
        raise ConfigError("--portable loads the pipeline in Spark: pip install 'spark-model-registry[spark,onnx]'.")
    from registry.spark.deploy import NotPortableWarning, deploy_saved

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NotPortableWarning)
        released = deploy_saved(path, target, portable=portable, parity_data=parity_data, **options)
    for warning in caught:
        if issubclass(warning.category, NotPortableWarning):
            click.echo(f"warning: {warning.message}", err=True)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return released


@click.command()
@click.argument("artifact", metavar="GROUP:ARTIFACT")
@repository_option
def versions(artifact: str, repository: str | None) -> None:
    """List the released versions of GROUP:ARTIFACT, oldest first, one per line.

    A yanked version is listed as 'VERSION (yanked: REASON)': selectors skip it, its exact coordinate resolves.
    """
    from registry.releases import list_releases

    found = list_releases(artifact, repository=repository, settings=load_settings())
    for release in found.releases:
        click.echo(f"{release.version} (yanked: {release.yanked.reason})" if release.yanked else str(release.version))
    if found.foreign:
        click.echo(f"(not listed: {', '.join(found.foreign)}, not of the form MAJOR.MINOR.BUILD)", err=True)


@click.command()
@click.argument("spec", metavar="GROUP:ARTIFACT:SELECTOR")
@repository_option
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
    import warnings

    from registry.resolve import YankedWarning
    from registry.resolve import resolve as resolve_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", YankedWarning)  # said once, below, as one line
        resolved = resolve_model(spec, repository=repository, settings=load_settings(), to=to)
    if resolved.yanked is not None:
        event = resolved.yanked
        click.echo(
            f"warning: {resolved.coordinate} is yanked (by {event.by.get('user', 'unknown')} at {event.at}: "
            f"{event.reason}); resolved because it was asked for exactly.",
            err=True,
        )
    click.echo(f"Resolved {resolved.coordinate}", err=True)
    click.echo(str(resolved.path))


@click.command()
@click.argument("spec", metavar="GROUP:ARTIFACT:VERSION")
@click.option("--from", "source", required=True, metavar="NAME|URL|PATH", help="The repository to copy from.")
@click.option("--to", "target", required=True, metavar="NAME|URL|PATH", help="The repository to copy to.")
@gate_option("--require", "gates", "A quality gate the model card must pass", metavar="METRIC>=NUMBER")
@click.option(
    "--require-signed-by",
    metavar="FINGERPRINT",
    help="Refuse unless every file of the version carries a good signature by this key (full fingerprint).",
)
@sign_option
def promote(
    spec: str, source: str, target: str, gates: tuple[str, ...], require_signed_by: str | None, sign: str | None
) -> None:
    """Copy a released version byte for byte from one repository to another, verified on both sides.

    SPEC may be a selector (com.acme:churn:latest.release), resolved in the source. '--require approved' (or
    require_approval = true on the target) needs a 'registry approve' by someone other than the deployer. The
    last line printed is the coordinate promoted.
    """
    from registry.approval import APPROVED_GATE
    from registry.gates import parse_gate
    from registry.promote import promote as promote_version

    parsed = [parse_gate(g) for g in gates if g != APPROVED_GATE]  # bad gates are refused before anything is read
    done = promote_version(
        spec,
        source=source,
        target=target,
        gates=parsed,
        settings=load_settings(),
        require_signed_by=require_signed_by,
        sign=signing_key(sign),
        require_approval=APPROVED_GATE in gates,
    )
    for result in done.gates:
        click.echo(f"gate {result}", err=True)
    if done.already_present:
        click.echo(f"{done.coordinate} is already in {done.target} with identical bytes: nothing to do.", err=True)
    else:
        click.echo(
            f"Promoted {done.coordinate} ({len(done.files)} files) from {done.source} to {done.target}", err=True
        )
    click.echo(str(done.coordinate))


#: Registered by :mod:`registry.cli`.
COMMANDS = (
    deploy,
    versions,
    resolve,
    promote,
)
