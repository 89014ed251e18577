"""What a deploy records about a Spark model: its stages and params, and a fingerprint of its training data.

The card's ``model`` field (see :mod:`registry.modelcard` for the rest)::

    {"class": "org.apache.spark.ml.PipelineModel", "uid": "PipelineModel_4f1c...",
     "stages": [{"uid": "LogisticRegression_9a0b...",
                 "class": "org.apache.spark.ml.classification.LogisticRegressionModel",
                 "params": {"maxIter": 10, "regParam": 0.01, "featuresCol": "features", ...},
                 "defaults": ["featuresCol", ...],
                 "input_cols": ["features"],
                 "output_cols": ["prediction", "probability", "rawPrediction"]}, ...]}

- ``params`` holds every param that is set or has a default; ``defaults`` names those that were not set
  explicitly. Values are JSON: lists stay lists, vectors and numpy arrays become lists of numbers, matrices lists
  of rows, a nested estimator (``OneVsRest``'s classifier) its own stage entry; non-finite numbers, which JSON
  cannot hold, become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
- ``class`` is the JVM class (what Scala or Java would load), or the Python class of a pure-Python stage.
- A nested pipeline is nested: its entry has ``"stages"`` of its own, in the same form, so the tree of the
  saved model is kept (and ``output_columns`` of the card walks it in order).
- The watermark stage (:mod:`registry.spark.watermark`) lists its column in ``output_cols``, and its statement is
  recorded with the ``<not deployed>`` placeholder: the coordinate written into the saved copy at deploy time is
  the card's own ``coordinate``, not configuration (so redeploying a resolved model is not a "change").

The training-data fingerprint is computed in one Spark job together with the row count: the sum, modulo 2**64,
of ``xxhash64`` over all columns of every row (maps hashed by their JSON text, as Spark refuses to hash maps).
A sum does not depend on row order or partitioning, so the same data read twice gives the same fingerprint.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pyspark.errors import AnalysisException, PySparkException
from pyspark.ml import PipelineModel
from pyspark.ml.feature import SQLTransformer
from pyspark.ml.linalg import Matrix, Vector
from pyspark.ml.param import Params
from pyspark.ml.wrapper import JavaWrapper
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql.types import ArrayType, DataType, MapType, StructType, UserDefinedType
from pyspark.sql.utils import is_remote

from registry._util import mask_url
from registry.exceptions import InvalidInput
from registry.savedmodel import PIPELINE_MODEL_CLASS, output_columns, stage_entry
from registry.spark.session import is_connect

__all__ = [
    "data_record",
    "describe_model",
    "describe_stage",
    "fingerprint",
    "fingerprint_aggregates",
    "input_schema",
    "json_value",
    "output_columns",
    "row_hash",
    "sql_name",
    "training_data_source",
    "training_data_summary",
]

_SHOWN_DIRECTORIES = 3


def json_value(value: Any) -> Any:
    """``value`` as JSON data (see the module docstring); unknown objects become their ``str``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return json_value(value.item())
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (Vector, Matrix)):
        return json_value(value.toArray())
    if isinstance(value, np.ndarray):
        return json_value(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, Params):
        return describe_stage(value)
    return str(value)


def _class_name(stage: Params) -> str:
    if isinstance(stage, PipelineModel):
        return PIPELINE_MODEL_CLASS
    if isinstance(stage, JavaWrapper) and is_remote():
        # Spark Connect: the JVM object lives on the server; pyspark names its class the same way when it loads one.
        return f"{type(stage).__module__.replace('pyspark', 'org.apache.spark', 1)}.{type(stage).__name__}"
    java = getattr(stage, "_java_obj", None)
    if java is not None:
        return str(java.getClass().getName())
    return f"{type(stage).__module__}.{type(stage).__qualname__}"


def describe_stage(stage: Params) -> dict[str, Any]:
    """One stage's entry in the card's ``model`` field (:func:`registry.savedmodel.stage_entry`)."""
    params: dict[str, Any] = {}
    defaults: list[str] = []
    for param in sorted(stage.params, key=lambda p: p.name):
        if stage.isSet(param):
            params[param.name] = json_value(stage.getOrDefault(param))
        elif stage.hasDefault(param):
            params[param.name] = json_value(stage.getOrDefault(param))
            defaults.append(param.name)
    stages = [describe_stage(s) for s in stage.stages] if isinstance(stage, PipelineModel) else None
    return stage_entry(stage.uid, _class_name(stage), params, defaults, stages)


def describe_model(model: PipelineModel, data: DataFrame | None = None) -> dict[str, Any]:
    """The card's ``model`` field for a fitted pipeline.

    With ``data`` (the training data), the columns a ``SQLTransformer`` derives are recorded as its
    ``output_cols``: its statement is applied by Spark to an empty DataFrame of ``data``'s schema, and the
    columns it adds are its outputs (so :func:`registry.reads.model_reads` does not take them for inputs); its
    ``input_cols`` are the columns without which Spark cannot analyse the statement (one analysis per column).
    Without ``data``, or where the empty frame cannot pass the stages, both stay unknown (``[]``).
    """
    stages = [describe_stage(s) for s in model.stages]
    if data is not None and any(isinstance(s, SQLTransformer) for s in _flat(model)):
        empty = data.sparkSession.createDataFrame([], data.schema)
        # Data that lacks a column a stage reads stops here; the profile then names it, with what to pass.
        with contextlib.suppress(AnalysisException, PySparkException):
            _derive_outputs(model.stages, stages, empty)
    return {"class": PIPELINE_MODEL_CLASS, "uid": model.uid, "stages": stages}


def _flat(model: PipelineModel) -> list[Params]:
    return [t for s in model.stages for t in (_flat(s) if isinstance(s, PipelineModel) else [s])]


def _derive_outputs(stages: Sequence[Params], entries: Sequence[dict[str, Any]], frame: DataFrame) -> DataFrame:
    """Pass an empty ``frame`` through ``stages``, recording in ``entries`` the columns each ``SQLTransformer``
    (without recorded outputs) adds; the frame after the last stage."""
    for stage, entry in zip(stages, entries, strict=True):
        if isinstance(stage, PipelineModel):
            frame = _derive_outputs(stage.stages, entry["stages"], frame)
            continue
        after = stage.transform(frame)  # type: ignore[attr-defined]
        if isinstance(stage, SQLTransformer) and not entry["output_cols"]:
            before = set(frame.columns)
            entry["output_cols"] = [c for c in after.columns if c not in before]
            entry["input_cols"] = [c for c in frame.columns if not _analyses(stage, frame.drop(c))]
        frame = after
    return frame


def _analyses(stage: SQLTransformer, frame: DataFrame) -> bool:
    """Whether Spark can analyse ``stage`` over ``frame``: a statement reads a column when it cannot without it."""
    try:
        stage.transform(frame).columns  # noqa: B018 (reading the columns is the analysis)
    except (AnalysisException, PySparkException):
        return False
    return True


def input_schema(data: DataFrame) -> list[dict[str, Any]]:
    """``[{"name", "type", "nullable"}]`` of a DataFrame, types as Spark's simple strings."""
    return [
        {"name": field.name, "type": field.dataType.simpleString(), "nullable": field.nullable}
        for field in data.schema.fields
    ]


def _has_map(data_type: DataType) -> bool:
    if isinstance(data_type, MapType):
        return True
    if isinstance(data_type, ArrayType):
        return _has_map(data_type.elementType)
    if isinstance(data_type, StructType):
        return any(_has_map(f.dataType) for f in data_type.fields)
    if isinstance(data_type, UserDefinedType):
        return _has_map(data_type.sqlType())
    return False


def sql_name(name: str) -> str:
    """A column's name as Spark SQL text reads it, whatever characters it holds."""
    return "`" + name.replace("`", "``") + "`"


def row_hash(data: DataFrame) -> str:
    """The SQL of the hash of each row of ``data`` that its fingerprint sums (a ``bigint``; 0 without columns).
    Written as SQL text, to be parsed by Spark once: on a classic session every function built in Python is a
    dozen calls into the JVM."""
    fields = data.schema.fields
    if not fields:
        return "CAST(0 AS BIGINT)"
    hashed = (f"to_json({sql_name(f.name)})" if _has_map(f.dataType) else sql_name(f.name) for f in fields)
    return f"xxhash64({', '.join(hashed)})"


#: The hash is summed in three parts of at most 22 bits, each sum a ``bigint`` that cannot overflow before 2**41
#: rows (a plain ``bigint`` sum would, and fail under ANSI; a decimal one costs a third of the pass).
_HASH_PARTS = (
    ("_h2", "shiftright(_h, 42)", 42),
    ("_h1", "shiftright(_h, 21) & 2097151", 21),
    ("_h0", "_h & 2097151", 0),
)


def fingerprint_aggregates() -> list[str]:
    """The aggregates (SQL) that give a fingerprint (:func:`fingerprint`) from a column ``_h`` holding the
    :func:`row_hash` of each row: to join any other aggregation over the same data, so that the fingerprint costs
    no pass of its own."""
    return ["count(1) AS _rows", *(f"sum({part}) AS {name}" for name, part, _ in _HASH_PARTS)]


def fingerprint(row: Row) -> tuple[int, str]:
    """Rows and content hash (the sum of the row hashes, modulo 2**64), from the row of an aggregation holding
    :func:`fingerprint_aggregates`."""
    total = sum(int(row[name] or 0) << shift for name, _, shift in _HASH_PARTS)
    return int(row["_rows"]), format(total % (1 << 64), "016x")


def _common_directory(files: Sequence[str]) -> str | None:
    """The deepest directory (URI) holding all ``files``, or ``None`` when they share only a scheme."""
    parents = {f.rsplit("/", 1)[0] for f in files}
    common: list[str] = []
    for segments in zip(*(p.split("/") for p in parents), strict=False):
        if len(set(segments)) != 1:
            break
        common.append(segments[0])
    return "/".join(common) if any(common[1:]) else None


def _summarise_files(files: Sequence[str]) -> str | None:
    """Where a DataFrame's input files are, and how many, masked: ``file:/data/churn (12 files)``."""
    if not files:
        return None
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    common = _common_directory(files)
    if common is not None:
        return f"{mask_url(common)} ({count})"
    parents = sorted({f.rsplit("/", 1)[0] for f in files})
    shown = ", ".join(mask_url(p) for p in parents[:_SHOWN_DIRECTORIES])
    more = len(parents) - _SHOWN_DIRECTORIES
    return f"{shown}{f' and {more} more directories' if more > 0 else ''} ({count})"


def _delta_version(spark: SparkSession, location: str, *, table: bool) -> int | None:
    """The version of a Delta table, or ``None`` when delta-spark is not installed or it is no Delta table."""
    if is_connect(spark):
        return _delta_version_sql(spark, location, table=table)
    try:
        from delta.tables import DeltaTable  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        delta = DeltaTable.forName(spark, location) if table else DeltaTable.forPath(spark, location)
        row = delta.history(1).select("version").first()
    except AnalysisException:  # not a Delta table
        return None
    return int(row[0]) if row is not None else None


def _delta_version_sql(spark: SparkSession, location: str, *, table: bool) -> int | None:
    """:func:`_delta_version` over Spark Connect, in SQL: Delta on the *server* is what counts, not here."""
    if not table and not _has_delta_log(spark, location):
        return None
    target = location if table else "delta.`" + location.replace("`", "``") + "`"
    try:
        row = spark.sql(f"DESCRIBE HISTORY {target} LIMIT 1").select("version").first()
    except PySparkException:  # no Delta on the server, or not a Delta table
        return None
    return int(row[0]) if row is not None else None


def _has_delta_log(spark: SparkSession, location: str) -> bool:
    """Whether ``location`` holds a ``_delta_log``: the session's Hadoop file system, or a listing over Connect."""
    if is_connect(spark):
        log = spark.read.format("binaryFile").load(location.rstrip("/") + "/_delta_log").select("path")
        try:
            return bool(log.limit(1).collect())
        except AnalysisException:  # no such directory
            return False
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(location)
    log_path = jvm.org.apache.hadoop.fs.Path(path, "_delta_log")
    return bool(path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(log_path))


def _read(spark: SparkSession, name: str) -> tuple[DataFrame, bool]:
    """A table name or a path as a DataFrame; ``(data, is_table)``."""
    is_path = "/" in name or "\\" in name
    try:
        if not is_path and spark.catalog.tableExists(name):
            return spark.table(name), True
        is_delta = _has_delta_log(spark, name)
        reader = spark.read.format("delta") if is_delta else spark.read
        return reader.load(name), False
    except AnalysisException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(
            f"Cannot read the training data {mask_url(name)!r} as a table or a path: {first}. Pass the DataFrame "
            "it was trained on instead."
        ) from exc


def training_data_source(data: DataFrame | str, spark: SparkSession) -> tuple[DataFrame, dict[str, Any]]:
    """The DataFrame ``data`` is, and what a card records of it without reading it: ``{"schema", "source",
    "table_version"}``.

    ``data`` is a DataFrame, or a table name or path (read as Delta when it holds a ``_delta_log``, else in the
    session's default format).
    """
    if isinstance(data, str):
        frame, is_table = _read(spark, data)
        source: str | None = mask_url(data)
        version = _delta_version(spark, data, table=is_table)
    else:
        frame = data
        files = frame.inputFiles()
        source = _summarise_files(files)
        common = _common_directory(files) if files else None
        version = _delta_version(spark, common, table=False) if common else None
    return frame, {"schema": frame.schema.simpleString(), "source": source, "table_version": version}


def data_record(counted: tuple[int, str], source: Mapping[str, Any]) -> dict[str, Any]:
    """The card's ``training_data`` (or ``evaluation_data``): ``{"rows", "schema", "fingerprint", "source",
    "table_version"}`` from the :func:`fingerprint` and the :func:`training_data_source`."""
    rows, hashed = counted
    return {
        "rows": rows,
        "schema": source["schema"],
        "fingerprint": hashed,
        "source": source["source"],
        "table_version": source["table_version"],
    }


def training_data_summary(data: DataFrame | str, spark: SparkSession) -> dict[str, Any]:
    """The card's ``training_data`` (:func:`data_record`), the fingerprint counted by a job of its own."""
    frame, source = training_data_source(data, spark)
    row = frame.selectExpr(f"{row_hash(frame)} AS _h").selectExpr(*fingerprint_aggregates()).first()
    assert row is not None  # a global aggregate always has one row
    return data_record(fingerprint(row), source)
