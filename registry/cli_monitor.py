"""``registry monitor``: drift of scored data against each model version's training profile.

Kept apart from :mod:`registry.cli` (which registers it) so the command and its Spark start-up live together.
pyspark is imported inside the command only: the rest of the CLI starts without it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from registry.exceptions import InvalidInput

__all__ = ["monitor"]

EXIT_DRIFT = 1


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--repository",
    "-r",
    envvar="REGISTRY_REPOSITORY",
    metavar="NAME|URL|PATH",
    help="Where the versions' model cards are read. [env: REGISTRY_REPOSITORY]",
)
@click.option(
    "--format",
    "data_format",
    type=click.Choice(["parquet", "csv", "json"]),
    default="parquet",
    show_default=True,
    help="How PATH is stored (csv: with a header line).",
)
@click.option("--watermark-col", default="pipeline", show_default=True, help="The column naming each row's version.")
@click.option(
    "--fail-on",
    type=click.Choice(["drifting", "drifted"]),
    help="Exit with code 1 when any column of any version is this bad (drifting also fails on drifted).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for 'registry catalog --monitor').")
def monitor(
    path: Path, repository: str | None, data_format: str, watermark_col: str, fail_on: str | None, as_json: bool
) -> None:
    """Compare scored data in PATH with the training profile of each model version that scored it.

    One table per version found in the watermark column: rows scored, and per feature, prediction and
    probability the PSI against the training bins, null rates, the share outside the training range and a verdict
    (stable, drifting from PSI 0.1 or a null rate change of 0.05, drifted from PSI 0.25 or 0.2).
    """
    from registry.config import Settings

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InvalidInput("registry monitor needs Spark: pip install 'registry[spark]'.") from None
    from registry.spark.monitor import monitor as monitor_data

    spark = SparkSession.builder.appName("registry monitor").getOrCreate()
    reader = spark.read.format(data_format)
    if data_format == "csv":
        reader = reader.option("header", "true").option("inferSchema", "true")
    result = monitor_data(
        reader.load(str(path)), watermark_col=watermark_col, repository=repository, settings=Settings.load()
    )
    if as_json:
        click.echo(result.report.to_json())
    else:
        from rich.console import Console

        from registry.monitor_view import report_view

        Console(soft_wrap=False).print(report_view(result.report))
    if fail_on is not None and result.report.fails(fail_on):  # type: ignore[arg-type]  # click.Choice checked it
        drifted = [
            f"{v.version}: {', '.join(c.name for c in v.columns if c.verdict != 'stable')}"
            for v in result.report.versions
            if v.verdict != "stable"
        ]
        click.echo(f"registry: {result.report.verdict}: {'; '.join(drifted)}", err=True)
        sys.exit(EXIT_DRIFT)
