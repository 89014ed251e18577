"""``registry fetch``: download one classified file of a release (the portable twin), verified."""

from __future__ import annotations

from pathlib import Path

import click

from registry.cli.shared import load_settings, repository_option

__all__ = ["COMMANDS"]


@click.command()
@click.argument("spec", metavar="COORDINATE|SELECTOR")
@click.option(
    "--classifier",
    type=click.Choice(["onnx"]),
    default="onnx",
    show_default=True,
    help="Which file of the release: onnx, the portable twin (ARTIFACT-VERSION-onnx.onnx).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The directory to write it into.",
)
@repository_option
def fetch(spec: str, classifier: str, output: Path, repository: str | None) -> None:
    """Download a release's CLASSIFIER file, verified against its checksum and, where the repository's policy
    asks or the file is signed, its signature. The last line printed is the file's path."""
    from registry.portable.fetch import fetch_twin, save_twin

    fetched = fetch_twin(spec, repository=repository, settings=load_settings())
    path = save_twin(fetched, output)
    signed = f", signed by {fetched.signer}" if fetched.signer else ""
    click.echo(f"Fetched the {classifier} twin of {fetched.coordinate}{signed}", err=True)
    click.echo(str(path))


#: Registered by :mod:`registry.cli`.
COMMANDS = (fetch,)
