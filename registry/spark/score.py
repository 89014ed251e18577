"""Score a dataset with a released model, no job to write: ``registry score COORDINATE --input A --output B``.

:func:`score` reads the input with Spark, checks that it has every column the model reads (before any job
runs), transforms it with the resolved model (the watermark column included), and writes the result the way Spark
writes (its output committer, then ``_SUCCESS``), counting the rows written in that same job. An existing output
is refused unless ``mode`` says to overwrite or append.

On a cluster, this file is itself the application, so ``--packages``, ``--conf`` and ``--master`` work as usual::

    spark-submit --master yarn --conf spark.registry.modelDir=hdfs:///tmp/models \\
        $(python -c 'import registry.spark.score as m; print(m.__file__)') \\
        com.acme:churn:latest.release --input hdfs:///data/in --output hdfs:///data/scored

It takes the arguments of ``registry score`` and uses the session ``spark-submit`` started.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StructType, UserDefinedType

from registry import events
from registry._util import mask_url
from registry.coordinates import Coordinate
from registry.exceptions import InvalidInput
from registry.payload import model_inputs
from registry.repository.base import Repository
from registry.resolve import resolve as resolve_dir
from registry.settings import Settings, using_repository
from registry.spark.card import describe_model
from registry.spark.resolve import load_model
from registry.spark.resolve import resolve as resolve_model
from registry.spark.runtime import check_spark_version
from registry.spark.session import active_session
from registry.spark.watermark import check_column_absent, find_watermark

__all__ = ["FORMATS", "MODES", "Scored", "local_session", "missing_columns", "score"]

#: Formats read and written, and what an output that exists is met with.
FORMATS = ("parquet", "csv", "json", "orc")
MODES = ("error", "overwrite", "append")
_SAVE_MODES = {"error": "errorifexists", "overwrite": "overwrite", "append": "append"}


@dataclass(frozen=True)
class Scored:
    """What :func:`score` did: which model, how many rows, where, in which format."""

    coordinate: str
    rows: int
    output: str
    format: str


def local_session(app: str, conf: Mapping[str, str] | None = None) -> tuple[SparkSession, bool]:
    """The session to score in, and whether it was started here (and so is the caller's to stop).

    The active session if there is one; the one ``spark-submit`` (or ``pyspark``) launched this process for, with
    its configuration; else a new ``local[*]`` session without UI, configured by ``conf``.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # started by spark-submit: its --master and --conf apply
        builder = SparkSession.builder
        for key, value in (conf or {}).items():
            builder = builder.config(key, value)
        return builder.getOrCreate(), False
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local session needs no lookup of the host's name
    settings = {
        "spark.master": "local[*]",
        "spark.app.name": app,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        **(conf or {}),
    }
    builder = SparkSession.builder
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(settings.get("spark.log.level", "WARN"))
    return session, True


def _format(given: str | None, path: str, what: str) -> str:
    if given is not None:
        if given not in FORMATS:
            raise InvalidInput(f"Unknown {what} format {given!r}; use one of {', '.join(FORMATS)}.")
        return given
    suffix = PurePosixPath(path.rstrip("/")).suffix.lstrip(".").lower()
    return suffix if suffix in FORMATS else "parquet"


def _exists(spark: SparkSession, location: str) -> bool:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(location)
    return bool(path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(path))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _jvm_reason(exc: Exception) -> str:
    """The first line of what the JVM said, without py4j's "An error occurred while calling o37.load." and the
    exception's class name."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("An error occurred while calling"):
        lines = lines[1:]
    first = lines[0].lstrip(": ") if lines else type(exc).__name__
    return re.sub(r"^[\w.$]+(Exception|Error): ", "", first).rstrip(".")


def _read(spark: SparkSession, location: str, data_format: str, *, given: bool) -> DataFrame:
    if not any(c in location for c in "*?[{") and not _exists(spark, location):
        raise InvalidInput(f"The input {mask_url(location)!r} does not exist. Check --input.")
    reader = spark.read.format(data_format)
    if data_format == "csv":
        reader = reader.option("header", "true").option("inferSchema", "true")
    try:
        return reader.load(location)
    except Exception as exc:  # AnalysisException, or a failed job (a folder of CSV read as parquet)
        how = data_format if given else f"{data_format} (the default for a path without a known extension)"
        raise InvalidInput(
            f"Cannot read the input {mask_url(location)!r} as {how}: {_jvm_reason(exc)}. Check the path, or pass "
            f"--input-format ({', '.join(f for f in FORMATS if f != data_format)})."
        ) from exc


def missing_columns(required: Sequence[str], available: Sequence[str], *, case_sensitive: bool = False) -> list[str]:
    """The ``required`` columns that ``available`` lacks, compared as Spark resolves names."""
    if case_sensitive:
        return [c for c in required if c not in set(available)]
    present = {c.lower() for c in available}
    return [c for c in required if c.lower() not in present]


def _check_columns(required: Sequence[str], data: DataFrame, coordinate: str, location: str) -> None:
    case_sensitive = str(data.sparkSession.conf.get("spark.sql.caseSensitive", "false")).lower() == "true"
    missing = missing_columns(required, data.columns, case_sensitive=case_sensitive)
    if missing:
        raise InvalidInput(
            f"The input {mask_url(location)!r} has no column {', '.join(map(repr, missing))}, which {coordinate} "
            f"reads (it reads {', '.join(required)}; the input has {', '.join(data.columns) or 'no columns'})."
        )


def _load(
    spec: str,
    spark: SparkSession,
    data: Callable[[], DataFrame],
    location: str,
    *,
    repository: Repository | str | None,
    settings: Settings | None,
    model_dir: str | None,
    allow_spark_mismatch: bool,
) -> tuple[PipelineModel, str, DataFrame]:
    """The model, its exact coordinate, and the input, checked to have the model's columns.

    The columns are checked against the card before the model is loaded (loading runs Spark jobs) when the card
    describes the model; else against the loaded model.
    """
    if spec.count(":") < 2:  # a model that spark-submit's --packages put on the classpath
        model = resolve_model(
            spec, spark=spark, settings=settings, model_dir=model_dir, allow_spark_mismatch=allow_spark_mismatch
        )
        watermark = find_watermark(model)
        coordinate = watermark.value if watermark else spec
        frame = data()
        _check_columns(model_inputs(describe_model(model)), frame, coordinate, location)
        return model, coordinate, frame
    resolved = resolve_dir(spec, repository=repository, settings=settings)
    coordinate = str(resolved.coordinate)
    tools = resolved.card.tools if resolved.card is not None else None
    check_spark_version(tools, spark, coordinate, allow_spark_mismatch=allow_spark_mismatch)
    described = resolved.card.model if resolved.card is not None else None
    frame = data()
    if described:
        _check_columns(model_inputs(described), frame, coordinate, location)
    model = load_model(spark, resolved, model_dir=model_dir)
    if not described:
        _check_columns(model_inputs(describe_model(model)), frame, coordinate, location)
    return model, coordinate, frame


def _not_writable_as_csv(data: DataFrame) -> list[str]:
    nested = (ArrayType, MapType, StructType, UserDefinedType)
    return [f.name for f in data.schema.fields if isinstance(f.dataType, nested)]


def score(
    spec: str,
    input_path: str,
    output_path: str,
    *,
    spark: SparkSession | None = None,
    output_format: str | None = None,
    input_format: str | None = None,
    mode: str = "error",
    columns: Sequence[str] | None = None,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    model_dir: str | None = None,
    options: Mapping[str, Any] | None = None,
    allow_spark_mismatch: bool = False,
) -> Scored:
    """Score ``input_path`` with the model ``spec`` resolves to and write the result to ``output_path``.

    :param spec: ``GROUP:ARTIFACT:SELECTOR`` (``1.0.3``, ``1.0``, ``latest.release``, ...), or ``ARTIFACT`` /
        ``GROUP:ARTIFACT`` for the model ``--packages`` put on the classpath.
    :param input_path: anything Spark reads (``/data/in``, ``hdfs://...``, ``s3a://...``).
    :param output_format: ``parquet``, ``csv``, ``json`` or ``orc``; default: the output's extension, else
        parquet. ``input_format`` likewise (CSV is read with a header and inferred types).
    :param mode: ``error`` (refuse an existing output), ``overwrite`` or ``append``.
    :param columns: the output columns (the watermark column is always added); default: all.
    :param options: options of the writer (``{"compression": "zstd"}``).
    :param allow_spark_mismatch: load a model saved by a newer Spark than the session's (see
        :func:`registry.spark.resolve`).
    :returns: the coordinate used and the rows written, counted in the job that wrote them.
    :raises InvalidInput: the output exists, the input is missing a column the model reads (named), an unknown
        output column, an unreadable input; all before any scoring job runs.
    """
    session = active_session(spark)
    if mode not in MODES:
        raise InvalidInput(f"Unknown mode {mode!r}; use one of {', '.join(MODES)}.")
    writes = _format(output_format, output_path, "output")
    if mode == "error" and _exists(session, output_path):
        raise InvalidInput(
            f"The output {mask_url(output_path)!r} exists. Choose another --output, or pass --mode overwrite to "
            "replace it or --mode append to add to it."
        )
    reads = _format(input_format, input_path, "input")
    model, coordinate, data = _load(
        spec,
        session,
        lambda: _read(session, input_path, reads, given=input_format is not None),
        input_path,
        repository=repository,
        settings=settings,
        model_dir=model_dir,
        allow_spark_mismatch=allow_spark_mismatch,
    )
    run = _lineage(spec, coordinate, input_path, output_path, repository, settings)
    try:
        rows = _score(session, model, coordinate, data, input_path, output_path, writes, mode, columns, options)
    except BaseException as exc:
        run.fail(exc)
        raise
    run.complete(rows)
    return Scored(coordinate, rows, output_path, writes)


def _lineage(
    spec: str,
    coordinate: str,
    input_path: str,
    output_path: str,
    repository: Repository | str | None,
    settings: Settings | None,
) -> events.ScoreRun | events.NoRun:
    """The OpenLineage events of this run (:func:`registry.events.score_run`), its ``START`` sent; nothing is
    opened or built where no receiver is configured."""
    if not events.configured():
        return events.NoRun()
    try:
        exact = Coordinate.parse(coordinate)
    except InvalidInput:  # a model from the classpath without a watermark: no version to name
        return events.NoRun()
    if spec.count(":") < 2:
        namespace = "classpath"  # put there by spark-submit's --packages
    else:
        with using_repository(repository, settings) as (repo, _):
            namespace = repo.display
    return events.score_run(namespace, exact, [input_path], output_path)


def _score(
    session: SparkSession,
    model: PipelineModel,
    coordinate: str,
    data: DataFrame,
    input_path: str,
    output_path: str,
    writes: str,
    mode: str,
    columns: Sequence[str] | None,
    options: Mapping[str, Any] | None,
) -> int:
    """Transform ``data`` and write it; the rows written."""
    case_sensitive = str(session.conf.get("spark.sql.caseSensitive", "false")).lower() == "true"
    watermark = find_watermark(model)
    if watermark is not None:
        check_column_absent(data, watermark.column)
    try:
        scored = model.transform(data)
    except AnalysisException as exc:
        raise InvalidInput(f"{coordinate} cannot score {mask_url(input_path)!r}: {_first_line(exc)}") from exc
    if columns:
        wanted = list(dict.fromkeys([*columns, *([watermark.column] if watermark else [])]))
        unknown = missing_columns(wanted, scored.columns, case_sensitive=case_sensitive)
        if unknown:
            raise InvalidInput(
                f"No output column {', '.join(map(repr, unknown))}; the scored data has {', '.join(scored.columns)}."
            )
        scored = scored.select(*(F.col(f"`{c.replace('`', '``')}`") for c in wanted))
    if writes == "csv" and _not_writable_as_csv(scored):
        raise InvalidInput(
            f"CSV cannot hold the columns {', '.join(_not_writable_as_csv(scored))} (vectors, arrays, structs); "
            "choose the columns with --columns (e.g. --columns prediction) or another --format."
        )
    counted = Observation("registry-score")
    scored = scored.observe(counted, F.count(F.lit(1)).alias("rows"))
    writer = scored.write.format(writes).mode(_SAVE_MODES[mode]).options(**(options or {}))
    if writes == "csv":
        writer = writer.option("header", "true")
    try:
        writer.save(output_path)
    except AnalysisException as exc:
        raise InvalidInput(f"Cannot write {mask_url(output_path)!r}: {_first_line(exc)}") from exc
    return int(counted.get.get("rows", 0))
