"""The commands that read model cards: ``show``, ``diff``, ``search``, ``catalog``."""

from __future__ import annotations

from pathlib import Path

import click

from registry.cli.shared import gate_option, load_settings, repository_option

__all__ = ["COMMANDS"]


@click.command()
@click.argument("spec", metavar="COORDINATE")
@repository_option
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON, with its promotion record.")
def show(spec: str, repository: str | None, as_json: bool) -> None:
    """Show the model card of a version: who deployed it when, code, data, params per stage, metrics, promotion.

    COORDINATE is GROUP:ARTIFACT:VERSION or a selector such as com.acme:churn:latest.release.
    """
    import json

    from registry.cards import read_card

    record = read_card(spec, repository=repository, settings=load_settings())
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=2, sort_keys=True))
        return
    from registry.cli.render import card_view, print_view

    print_view(card_view(record))


@click.command()
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@repository_option
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff(first: str, second: str, repository: str | None, as_json: bool) -> None:
    """Compare two versions: params per stage, metrics with deltas, input schema, training data, stages, code.

    A is GROUP:ARTIFACT:VERSION or a selector; B is the same, or just a version or selector of A's artifact
    (registry diff com.acme:churn:1.0.2 1.0.3).
    """
    from registry.diff import diff as diff_versions

    _, _, changes = diff_versions(first, second, repository=repository, settings=load_settings())
    if as_json:
        click.echo(changes.to_json())
        return
    from registry.cli.render import diff_view, print_view

    print_view(diff_view(changes))


@click.command()
@click.argument("artifact", metavar="GROUP:ARTIFACT")
@repository_option
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A param of any stage; repeatable.")
@gate_option("--metric", "metrics", "A metric condition such as 'auc>0.8'", metavar="NAME>NUMBER")
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

    from registry.search import Query, search_explained

    query = Query.parse(params, metrics, dataset, labels)  # bad criteria are refused before anything is read
    found, note = search_explained(artifact, query, repository=repository, settings=load_settings())
    if as_json:
        click.echo(json.dumps([record.to_dict() for record in found], indent=2, sort_keys=True))
        return
    if not found:
        click.echo(f"No version matches.{f' {note}' if note else ''}", err=True)
        return
    from registry.cli.lines import piped_search

    if not piped_search(found):  # a terminal: rich draws the table
        from registry.cli.render import print_view, search_view

        print_view(search_view(found))


@click.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="The site directory.")
@repository_option
@click.option("--artifact", "artifacts", multiple=True, metavar="GROUP:ARTIFACT", help="Only these; repeatable.")
@click.option("--monitor", "report", type=click.Path(dir_okay=False, path_type=Path), help="Show this drift report.")
def catalog(out: Path, repository: str | None, artifacts: tuple[str, ...], report: Path | None) -> None:
    """Write a static HTML catalog of the repository's models (no JavaScript; opens from file://).

    Without --artifact, every artifact in the repository is found by walking its folders. OUT must be new,
    empty, or a catalog written before (it is replaced). The last line printed is the path of index.html.
    With --monitor REPORT (written by 'registry monitor PATH --json'), versions show their drift.
    """
    from registry.catalog import build_catalog

    monitored = None
    if report is not None:
        from registry.drift import DriftReport

        monitored = DriftReport.read(report)
    index = build_catalog(
        out, repository=repository, settings=load_settings(), artifacts=artifacts, monitored=monitored
    )
    click.echo(str(index))


#: Registered by :mod:`registry.cli`.
COMMANDS = (
    show,
    diff,
    search,
    catalog,
)
