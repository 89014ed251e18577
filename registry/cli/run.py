"""``registry score`` and ``registry serve``: run a released model without writing a job or running a platform.

Like the rest of the command line, each command parses its options and calls one library function
(:func:`registry.spark.score.score`, :func:`registry.spark.serve.serve`); pyspark and uvicorn are imported only
when the command runs, so ``registry --help`` stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TypedDict

import click

from registry.cli.shared import duration_option, load_settings, repository_option
from registry.exceptions import ConfigError, InvalidInput
from registry.settings import Settings

__all__ = ["COMMANDS", "score", "serve"]

_FORMATS = ("parquet", "csv", "json", "orc")

_conf_option = click.option(
    "--conf",
    "conf",
    multiple=True,
    metavar="KEY=VALUE",
    help="A Spark setting for the local session (spark.driver.memory=2g); repeatable.",
)
_mismatch_option = click.option(
    "--allow-spark-mismatch",
    is_flag=True,
    help="Load a model saved by a newer Spark than the session's (normally refused, naming both versions).",
)


class _Job(TypedDict):
    """What ``registry score`` asks of either engine (the Spark model, or the twin) besides the spec and paths."""

    repository: str | None
    settings: Settings
    output_format: str | None
    input_format: str | None
    mode: str
    columns: Sequence[str] | None


def _require(*modules: str, extra: str) -> None:
    """A clear error, rather than a traceback, when an optional dependency is not installed."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"This command needs {', '.join(missing)}: pip install 'spark-model-registry[{extra}]'.")


def _parse_conf(values: tuple[str, ...]) -> dict[str, str]:
    conf: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"Invalid --conf {item!r}: expected KEY=VALUE, e.g. --conf spark.driver.memory=2g")
        conf[key.strip()] = value
    return conf


@click.command()
@click.argument("spec", metavar="COORDINATE|SELECTOR")
@click.option("--input", "input_path", required=True, metavar="PATH", help="What to score: any path Spark reads.")
@click.option("--output", "output_path", required=True, metavar="PATH", help="Where to write the scored rows.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(_FORMATS),
    help="The output's format. [default: the output's extension, else parquet]",
)
@click.option(
    "--input-format",
    type=click.Choice(_FORMATS),
    help="The input's format (CSV: with a header). [default: the input's extension, else parquet]",
)
@click.option(
    "--mode",
    type=click.Choice(["error", "overwrite", "append"]),
    default="error",
    show_default=True,
    help="What to do when the output exists.",
)
@click.option("--columns", metavar="A,B,...", help="The output columns (the watermark column is always added).")
@repository_option
@_conf_option
@_mismatch_option
@click.option(
    "--engine",
    type=click.Choice(["spark", "onnx"]),
    default="spark",
    show_default=True,
    help="onnx: the release's ONNX twin, read and written with pyarrow in bounded batches, no JVM (one machine).",
)
@click.option("--verbose", is_flag=True, help="Show Spark's own log (warnings, and the JVM's stack traces).")
def score(
    spec: str,
    input_path: str,
    output_path: str,
    output_format: str | None,
    input_format: str | None,
    mode: str,
    columns: str | None,
    repository: str | None,
    conf: tuple[str, ...],
    allow_spark_mismatch: bool,
    engine: str,
    verbose: bool,
) -> None:
    """Score a dataset with a model and write the result, watermark column included.

    COORDINATE|SELECTOR is GROUP:ARTIFACT:VERSION or a selector (com.acme:churn:latest.release). Runs in a local
    Spark session, or in the one spark-submit started (see the README). The last line printed is the coordinate
    used and the rows written: com.acme:churn:1.0.3 1000000
    """
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    job = _Job(
        repository=repository,
        settings=load_settings(),
        output_format=output_format,
        input_format=input_format,
        mode=mode,
        columns=wanted,
    )
    if engine == "onnx":
        _require("onnxruntime", "pyarrow", extra="onnx")
        from registry.portable.score import score_twin

        scored = score_twin(spec, input_path, output_path, **job)
        click.echo(f"Scored {scored.rows} rows with the twin of {scored.coordinate} into {scored.output}", err=True)
        click.echo(f"{scored.coordinate} {scored.rows}")
        return
    _require("pyspark", extra="spark")
    from registry.spark.score import local_session
    from registry.spark.score import score as score_data

    conf_map = _parse_conf(conf)
    if not verbose:  # an error is one line of ours; the JVM's stack traces behind it are for --verbose
        conf_map.setdefault("spark.log.level", "OFF")
    spark, started = local_session("registry score", conf_map)
    try:
        done = score_data(spec, input_path, output_path, spark=spark, allow_spark_mismatch=allow_spark_mismatch, **job)
    finally:
        if started:
            spark.stop()
    click.echo(f"Scored {done.rows} rows with {done.coordinate} into {done.output} ({done.format})", err=True)
    click.echo(f"{done.coordinate} {done.rows}")


@click.command()
@click.argument("spec", metavar="COORDINATE|SELECTOR")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--reload",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="With a selector: look for a newer build this often, and serve it once it answers.",
)
@repository_option
@_conf_option
@_mismatch_option
@click.option("--max-records", type=click.IntRange(min=1), default=1000, show_default=True, help="Per request.")
@click.option("--max-body", type=click.IntRange(min=1), default=4 << 20, show_default=True, help="Bytes per request.")
@click.option(
    "--max-batch", type=click.IntRange(min=1), default=1000, show_default=True, help="Records per Spark transform."
)
@duration_option(
    "--batch-wait",
    default=None,
    unit="MS",
    what="How long a batch waits for more requests once it has one (default: 2 on Spark; 0 on the twin: each "
    "request scored as it arrives, no batching).",
)
@click.option("--access-log", is_flag=True, help="Log every request.")
@click.option(
    "--engine",
    type=click.Choice(["auto", "onnx", "spark"]),
    default="auto",
    show_default=True,
    help="onnx: the release's ONNX twin on onnxruntime, no JVM; spark: the model in a Spark session; auto: the "
    "twin where the release has one.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="On the twin: server processes on the one port, each with its own onnxruntime session.",
)
def serve(
    spec: str,
    host: str,
    port: int,
    reload: float | None,
    repository: str | None,
    conf: tuple[str, ...],
    allow_spark_mismatch: bool,
    max_records: int,
    max_body: int,
    max_batch: int,
    batch_wait: float | None,
    access_log: bool,
    engine: str,
    workers: int,
) -> None:
    """Serve a model over HTTP: POST /predict (also /invocations, as MLflow), GET /health, GET /model.

    COORDINATE|SELECTOR is GROUP:ARTIFACT:VERSION or a selector; with a selector and --reload, a newer build
    replaces the one serving once it is loaded and has answered, without failing a request.

    On the twin (--engine onnx, or auto when the release has one) no JVM is started; with --reload, a newer build
    without a twin is logged and the serving one kept.
    """
    _require("uvicorn", "starlette", extra="serve")
    from registry.serving import Limits, ServeOptions

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    if engine == "auto":
        from registry.portable.serve import has_twin

        engine = "onnx" if has_twin(spec, repository, settings) else "spark"
    if batch_wait is None:
        batch_wait = 0.0 if engine == "onnx" else 2.0
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its "Closing down clientserver connection" is noise
    limits = Limits(
        max_body=max_body,
        max_records=max_records,
        max_rows=max(max_batch, max_records),
        max_wait=batch_wait / 1000,
    )
    options = ServeOptions(
        spec, repository, settings, reload, host=host, port=port, limits=limits, access_log=access_log
    )
    if engine == "onnx":
        _require("onnxruntime", extra="serve")
        from registry.portable.serve import serve as serve_twin

        serve_twin(options, workers=workers)
        return
    if workers > 1:
        raise InvalidInput("--workers serves a twin (--engine onnx); a Spark model is served by one process.")
    _require("pyspark", extra="spark")
    from registry.spark.serve import serve as serve_model

    serve_model(options, conf=_parse_conf(conf), allow_spark_mismatch=allow_spark_mismatch)


#: Registered by :mod:`registry.cli`.
COMMANDS = (score, serve)
