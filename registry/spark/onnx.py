"""The portable twin of a fitted pipeline: converted to ONNX at deploy, proven equal to Spark, recorded in the card.

:func:`make_twin` converts the pipeline without its watermark stage (the coordinate is a constant the runner adds)
with ``onnxmltools.convert_sparkml``, then scores a sample with Spark and with onnxruntime
(:class:`registry.portable.run.Twin`) and compares them (:func:`parity`): the largest absolute difference in
probability (classifiers), or relative difference in the prediction (regressors: ``|onnx - spark| / max(1,
|spark|)``), must be at most :data:`TOLERANCE`, and every label equal. A twin that disagrees is never returned.

The conversion runs in a temporary directory that is removed afterwards (the tree converters save every tree
through Spark into ``tempfile.tempdir`` and leave it there), with the converters' prints to stdout silenced.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxmltools
import onnxruntime
from onnxmltools.convert.common._registration import get_converter, get_shape_calculator
from onnxmltools.convert.common.data_types import FloatTensorType, StringTensorType
from onnxmltools.convert.sparkml.ops_names import get_sparkml_operator_name
from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.feature import StringIndexerModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, NumericType, StringType

from registry.exceptions import NotPortable, RegistryError
from registry.modelcard import ModelCard
from registry.portable.run import CATEGORIES_KEY, INPUTS_KEY, WATERMARK_KEY, InputColumn, Twin
from registry.spark.onnx_stages import CONVERTERS, SHAPES, indexer_categories
from registry.spark.profile import model_reads
from registry.spark.watermark import find_watermark

__all__ = ["MIN_PARITY_ROWS", "TOLERANCE", "Converted", "SparkScores", "make_twin", "parity", "spark_scores"]

#: The fewest rows a parity check scores; it takes up to :data:`PARITY_ROWS`.
MIN_PARITY_ROWS = 1000
PARITY_ROWS = 2000
#: The largest difference allowed between the twin and Spark (absolute in probability, relative in a regression).
TOLERANCE = 1e-5
_TEMPDIR_LOCK = threading.Lock()


@dataclass(frozen=True)
class Converted:
    """A twin that passed its parity check: the ONNX bytes, and the card's ``portable`` section."""

    data: bytes
    section: dict[str, Any]


@dataclass(frozen=True)
class _Located:
    path: str
    stage: Transformer

    def __str__(self) -> str:
        return f"stage #{self.path} {type(self.stage).__name__}"


class _StageFailed(Exception):
    def __init__(self, stage: Any, error: BaseException):
        super().__init__(str(error))
        self.stage, self.error = stage, error


def _flat(model: PipelineModel, prefix: str = "") -> list[_Located]:
    found: list[_Located] = []
    for index, stage in enumerate(model.stages):
        path = f"{prefix}{index}"
        found += _flat(stage, f"{path}.") if isinstance(stage, PipelineModel) else [_Located(path, stage)]
    return found


def _without_watermark(model: PipelineModel) -> tuple[PipelineModel, str | None]:
    watermark = find_watermark(model)
    if watermark is None:
        return model, None
    return PipelineModel(list(model.stages[:-1])), watermark.column


def _input_types(columns: Sequence[str], data: DataFrame) -> list[InputColumn]:
    fields = {f.name: f.dataType for f in data.schema.fields}
    typed: list[InputColumn] = []
    for column in columns:
        kind = fields.get(column)
        if kind is None:
            raise NotPortable(f"The data has no column {column!r}, which the model reads.")
        if isinstance(kind, StringType):
            typed.append(InputColumn(column, "string"))
        elif isinstance(kind, (NumericType, BooleanType)):
            typed.append(InputColumn(column, "float"))
        else:
            raise NotPortable(f"Column {column!r} is a {kind.simpleString()}; a twin reads numbers and strings only.")
    return typed


def _wrapped(name: str, base: Callable[..., Any], locate: dict[int, _Located]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        operator = args[1] if len(args) == 3 else args[0]
        try:
            return base(*args)
        except Exception as exc:
            raise _StageFailed(operator.raw_operator, exc) from exc

    return call


def _registrations(stages: list[_Located]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The converters and shape calculators for the stages of this model (ours where onnxmltools' would refuse
    Spark's defaults), each wrapped so that a failure names its stage; a stage without one is named at once."""
    converters: dict[str, Any] = {}
    shapes: dict[str, Any] = {}
    locate = {id(s.stage): s for s in stages}
    for located in stages:
        try:
            name = get_sparkml_operator_name(type(located.stage))
            converter = CONVERTERS.get(name) or get_converter(name)
            shape = SHAPES.get(name) or get_shape_calculator(name)
        except ValueError:
            raise NotPortable(f"{located} has no ONNX converter.") from None
        converters[name] = _wrapped(name, converter, locate)
        shapes[name] = _wrapped(name, shape, locate)
    return converters, shapes


def _convert(
    core: PipelineModel, inputs: list[InputColumn], spark: SparkSession, registrations: tuple[dict[str, Any], ...]
) -> Any:
    stages = _flat(core)
    converters, shapes = registrations
    initial = [
        (c.name, StringTensorType([None, 1]) if c.type == "string" else FloatTensorType([None, 1])) for c in inputs
    ]
    scratch = tempfile.mkdtemp(prefix="registry-onnx-")
    try:
        with _TEMPDIR_LOCK, contextlib.redirect_stdout(io.StringIO()):
            before, tempfile.tempdir = tempfile.tempdir, scratch
            try:
                return onnxmltools.convert_sparkml(
                    core,
                    "registry-twin",
                    initial,
                    spark_session=spark,
                    custom_conversion_functions=converters,
                    custom_shape_calculators=shapes,
                )
            finally:
                tempfile.tempdir = before
    except _StageFailed as failed:
        where = next((str(s) for s in stages if s.stage is failed.stage), "a stage")
        raise NotPortable(f"{where} does not convert to ONNX: {failed.error}") from None
    except NotPortable:
        raise
    except Exception as exc:  # the converter's own errors, whatever their type
        raise NotPortable(f"The pipeline does not convert to ONNX: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _categories(core: PipelineModel, inputs: list[InputColumn]) -> dict[str, Any]:
    """For the inputs a ``StringIndexer`` reads directly: its labels and ``handleInvalid``."""
    read = {c.name for c in inputs}
    found: dict[str, Any] = {}
    for located in _flat(core):
        stage = located.stage
        if isinstance(stage, StringIndexerModel):
            columns = stage.getInputCols() if stage.isSet("inputCols") else [stage.getInputCol()]
            found.update({k: v for k, v in indexer_categories(stage, list(columns)).items() if k in read})
    return found


def make_twin(model: PipelineModel, card: ModelCard, spark: SparkSession, data: DataFrame) -> Converted:
    """Convert ``model`` and check it against Spark on up to :data:`PARITY_ROWS` rows of ``data``.

    Spark scores the sample on another thread while the pipeline converts and onnxruntime loads the twin: the two
    costs overlap rather than add up.

    :raises NotPortable: a stage has no converter or does not convert (named with its position and class), the
        data cannot feed the twin, or the twin disagrees with Spark.
    """
    started = time.perf_counter()
    core, watermark_col = _without_watermark(model)
    registrations = _registrations(_flat(core))  # an unsupported stage is named before anything else is tried
    inputs = _input_types(model_reads(card), data)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="registry-parity") as pool:
        # the watermark is a constant the runner adds: Spark scores the pipeline without it, as the twin holds it
        spark_side = pool.submit(spark_scores, core, data, inputs)
        data_bytes, converted = _serialized(core, inputs, spark, registrations, watermark_col, card)
        try:
            twin = Twin(data_bytes, name="the converted twin")
        except RegistryError as exc:  # a twin onnxruntime cannot load: not portable
            raise NotPortable(str(exc)) from exc
        scored = spark_side.result()
    try:
        figures = parity(twin, scored, inputs)
    except NotPortable:
        raise
    except RegistryError as exc:  # a twin that refuses the sample: not portable
        raise NotPortable(str(exc)) from exc
    section = {
        "format": "onnx",
        "opsets": {(o.domain or "ai.onnx"): int(o.version) for o in converted.opset_import},
        "ir_version": int(converted.ir_version),
        "converter": f"onnxmltools {onnxmltools.__version__}",
        "runtime": f"onnxruntime {onnxruntime.__version__}",
        "python": platform.python_version(),
        "inputs": [{"name": c.name, "type": c.type} for c in inputs],
        "outputs": list(twin.outputs),
        "watermark": watermark_col,
        "parity": {**figures, "seconds": round(time.perf_counter() - started, 3)},
    }
    return Converted(data_bytes, section)


def _serialized(
    core: PipelineModel,
    inputs: list[InputColumn],
    spark: SparkSession,
    registrations: tuple[dict[str, Any], ...],
    watermark_col: str | None,
    card: ModelCard,
) -> tuple[bytes, Any]:
    """The converted model with the runner's metadata, as bytes (the same model gives the same bytes)."""
    converted = _convert(core, inputs, spark, registrations)
    meta = {
        INPUTS_KEY: json.dumps([{"name": c.name, "type": c.type} for c in inputs]),
        CATEGORIES_KEY: json.dumps(_categories(core, inputs)),
        WATERMARK_KEY: watermark_col or "",
    }
    for key, value in meta.items():
        entry = converted.metadata_props.add()
        entry.key, entry.value = key, value
    converted.producer_name, converted.producer_version = "spark-model-registry", card.tools.get("registry") or ""
    converted.doc_string = ""
    converted.graph.name = "registry-twin"  # not the converter's random name
    return converted.SerializeToString(), converted


@dataclass(frozen=True)
class SparkScores:
    """What Spark made of the parity sample: the input columns, ``prediction`` and, where the model gives one,
    ``probability`` (each a list, one value per row)."""

    columns: dict[str, list[Any]]

    @property
    def rows(self) -> int:
        return len(self.columns.get("prediction", []))


def spark_scores(core: PipelineModel, data: DataFrame, inputs: list[InputColumn]) -> SparkScores:
    """Score up to :data:`PARITY_ROWS` rows of ``data`` (those without nulls in ``inputs``) with Spark: one job,
    brought back as Arrow where pyspark can (``toArrow``, pyspark 4), else as rows.

    :raises NotPortable: Spark cannot score them (its first line), or the pipeline gives no ``prediction``.
    """
    names = [c.name for c in inputs]
    try:
        scored = core.transform(data.select(*names).dropna().limit(PARITY_ROWS))
        if "prediction" not in scored.columns:
            raise NotPortable(f"The pipeline gives no prediction column (its columns: {', '.join(scored.columns)}).")
        wanted = [F.col(n) for n in (*names, "prediction")]
        if "probability" in scored.columns:
            wanted.append(_as_array(F.col("probability")).alias("probability"))
        result = scored.select(*wanted)
        to_arrow = getattr(result, "toArrow", None)
        if to_arrow is not None:
            return SparkScores(to_arrow().to_pydict())
        rows = result.collect()
        return SparkScores({name: [row[name] for row in rows] for name in result.columns})
    except NotPortable:
        raise
    except Exception as exc:  # Spark's own errors (analysis, the JVM's), whatever their type
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotPortable(f"Spark could not score the parity sample: {first}") from exc


def parity(twin: Twin, scored: SparkScores, inputs: list[InputColumn]) -> dict[str, Any]:
    """Score Spark's sample (:func:`spark_scores`) with the twin and compare; the figures, or :class:`NotPortable`."""
    if scored.rows < MIN_PARITY_ROWS:
        raise NotPortable(
            f"The parity check needs at least {MIN_PARITY_ROWS} rows without nulls in the columns the model reads; "
            f"the data has {scored.rows}: pass parity_data= (or training_data=) with more."
        )
    if "prediction" not in twin.outputs:
        raise NotPortable(f"The twin has no prediction output (its outputs: {', '.join(twin.outputs)}).")
    probability = "probability" in twin.outputs and "probability" in scored.columns
    outputs = twin.run({c.name: scored.columns[c.name] for c in inputs})
    spark_prediction = np.asarray(scored.columns["prediction"], dtype=np.float64)
    onnx_prediction = np.asarray(outputs["prediction"], dtype=np.float64).reshape(-1)
    if probability:
        spark_probability = np.asarray(scored.columns["probability"], dtype=np.float64)
        onnx_probability = np.asarray(outputs["probability"], dtype=np.float64)
        if spark_probability.shape != onnx_probability.shape:
            raise NotPortable(
                f"The twin gives {onnx_probability.shape[1]} probabilities, Spark gives {spark_probability.shape[1]}."
            )
        difference = float(np.max(np.abs(spark_probability - onnx_probability)))
        agreement = float(np.mean(spark_prediction == onnx_prediction))
        measure = "probability, absolute"
    else:
        difference = float(
            np.max(np.abs(spark_prediction - onnx_prediction) / np.maximum(1.0, np.abs(spark_prediction)))
        )
        agreement = (
            1.0
            if difference <= TOLERANCE
            else float(
                np.mean(
                    np.abs(spark_prediction - onnx_prediction) <= TOLERANCE * np.maximum(1.0, np.abs(spark_prediction))
                )
            )
        )
        measure = "prediction, relative"
    figures = {
        "rows": scored.rows,
        "measure": measure,
        "max_difference": difference,
        "label_agreement": agreement,
        "tolerance": TOLERANCE,
    }
    if not difference <= TOLERANCE or agreement < 1.0:
        raise NotPortable(
            f"The twin disagrees with Spark on {scored.rows} rows: largest difference {difference:.3g} ({measure}; "
            f"at most {TOLERANCE:g} allowed), {agreement:.2%} of predictions equal (100% required)."
        )
    return figures


def _as_array(column: Any) -> Any:
    from pyspark.ml.functions import vector_to_array

    return vector_to_array(column)
