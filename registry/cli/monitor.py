"""``registry monitor``: drift of scored data against each model version's training profile.

pyspark is imported (through :mod:`registry.spark`) inside the command only: the rest of the CLI starts without it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from registry.cli.shared import load_settings, repository_option
from registry.exceptions import InvalidInput

__all__ = ["COMMANDS", "monitor"]

EXIT_DRIFT = 1


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@repository_option
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
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        raise InvalidInput("registry monitor needs Spark: pip install 'spark-model-registry[spark]'.")
    from registry.spark.monitor import monitor as monitor_data
    from registry.spark.score import local_session

    spark, started = local_session("registry monitor")
    try:
        reader = spark.read.format(data_format)
        if data_format == "csv":
            reader = reader.option("header", "true").option("inferSchema", "true")
        result = monitor_data(
            reader.load(str(path)), watermark_col=watermark_col, repository=repository, settings=load_settings()
        )
    finally:
        if started:
            spark.stop()
    if as_json:
        click.echo(result.report.to_json())
    else:
        from registry.cli.render import print_view
        from registry.monitor_view import report_view

        print_view(report_view(result.report))  # like show/diff/search: one line per row into a pipe
    if fail_on is not None and result.report.fails(fail_on):  # type: ignore[arg-type]  # click.Choice checked it
        drifted = [
            f"{v.version}: {', '.join(c.name for c in v.columns if c.verdict != 'stable')}"
            for v in result.report.versions
            if v.verdict != "stable"
        ]
        click.echo(f"registry: {result.report.verdict}: {'; '.join(drifted)}", err=True)
        sys.exit(EXIT_DRIFT)


#: Registered by :mod:`registry.cli`.
COMMANDS = (monitor,)
