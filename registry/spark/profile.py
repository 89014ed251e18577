"""What a deploy learns from data: the training profile (:mod:`registry.profile`) and evaluation metrics.

**The profile** describes every column the model reads at transform time (the inputs of its stages that no earlier
stage produces; a fitted model does not read its label), plus the model's own prediction and, for a binary
classifier, the probability of the positive class, all on the training data. It reads the data twice whatever the
number of columns:

1. a uniform sample of about :data:`SAMPLE_ROWS` rows (all of them below that; ``sample_fraction`` in the profile),
   transformed and cached, and on it two jobs: the deciles of every numeric column (``percentile_approx`` with
   accuracy ``1 / RELATIVE_ERROR``, the same Greenwald-Khanna summary as ``approxQuantile(..., relativeError)``),
   then one grouped count over ``(column, key)`` pairs, the key being the decile bin of a numeric value or a
   categorical value itself, keeping the :data:`~registry.profile.TOP_VALUES` most frequent keys per column and
   the number of distinct ones;
2. one aggregation over every row: count, min, max, and the sums that give mean and stddev of every column
   (:func:`_moments`).

A share estimated from 100,000 rows has a standard error of at most 0.0016, below what PSI can tell apart, and the
quantile and bin work stops growing with the data. Counts, nulls, min, max, mean and stddev are always of every
row. The pass over every row is built to run as Spark's whole-stage generated code: only declarative aggregates
(one ``approx_count_distinct`` or ``percentile_approx`` among them makes Spark run the whole aggregation without
it) and no more fields in one aggregation than ``spark.sql.codegen.maxFields`` (100 by default) allows. Measured in
``benchmarks/RESULTS.md`` (section 11).

**Evaluation**: given ``evaluation_data``, the metrics of the Spark evaluator matching the last predicting stage:
binary classifiers ``areaUnderROC`` and ``areaUnderPR``, other classifiers ``f1`` and ``accuracy``, regressors
``rmse``, ``r2`` and ``mae``; one job per metric, on the transformed evaluation data.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.classification import ClassificationModel
from pyspark.ml.evaluation import (
    BinaryClassificationEvaluator,
    Evaluator,
    MulticlassClassificationEvaluator,
    RegressionEvaluator,
)
from pyspark.ml.regression import RegressionModel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DataType, DoubleType, FloatType, NumericType, StringType

from registry.exceptions import InvalidInput
from registry.modelcard import ModelCard, stages
from registry.profile import DECILES, RELATIVE_ERROR, TOP_VALUES, ColumnProfile, Kind, Profile, Value
from registry.spark.card import _read, training_data_summary

__all__ = ["evaluation_metrics", "model_reads", "profiled_card", "task", "training_profile"]

Task = Literal["binary", "multiclass", "regression", "clustering"]
_INPUTS = ("inputCol", "inputCols", "featuresCol")
#: The quantiles and the shares of bins and values come from a uniform sample of about this many rows.
SAMPLE_ROWS = 100_000
_SEED = 20_240_501
_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("areaUnderROC", "areaUnderPR"),
    "multiclass": ("f1", "accuracy"),
    "regression": ("rmse", "r2", "mae"),
}


def model_reads(card: ModelCard) -> list[str]:
    """The columns a fitted model reads from its input at transform time: read by a stage (``inputCol(s)``,
    ``featuresCol``), produced by no earlier stage, and not a label (``labelCol`` of any stage)."""
    all_stages = stages(card)
    labels = {s.params.get("labelCol") for s in all_stages}
    produced: set[str] = set()
    read: dict[str, None] = {}
    for stage in all_stages:
        for param in _INPUTS:
            value = stage.params.get(param)
            for column in value if isinstance(value, list) else [value]:
                if isinstance(column, str) and column not in produced and column not in labels:
                    read[column] = None
        produced.update(stage.output_cols)
    return list(read)


def _flat(model: PipelineModel) -> list[Transformer]:
    found: list[Transformer] = []
    for stage in model.stages:
        found += _flat(stage) if isinstance(stage, PipelineModel) else [stage]
    return found


def _predictor(model: PipelineModel) -> Transformer | None:
    """The last stage that writes a prediction column."""
    return next((s for s in reversed(_flat(model)) if s.hasParam("predictionCol")), None)


def task(stage: Transformer) -> Task:
    """What a predicting stage does, which decides how its prediction is profiled and evaluated."""
    if isinstance(stage, ClassificationModel):
        return "binary" if stage.numClasses == 2 else "multiclass"
    if isinstance(stage, RegressionModel):
        return "regression"
    return "clustering"


def _param(stage: Transformer, name: str) -> str | None:
    if not stage.hasParam(name) or not stage.isDefined(stage.getParam(name)):
        return None
    value = stage.getOrDefault(stage.getParam(name))
    return value if isinstance(value, str) and value else None


def _quoted(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def _kind(data_type: DataType) -> Kind:
    if isinstance(data_type, (StringType, BooleanType)):
        return "categorical"
    if isinstance(data_type, NumericType):
        return "numeric"
    return "unprofiled"


@dataclass(frozen=True)
class _Target:
    """One column to profile: its name in the card, the expression of its values, and how it is profiled."""

    name: str
    type: str
    kind: Kind
    value: Column
    index: int | None = None


def value_column(name: str, data_type: DataType, kind: Kind, index: int | None = None) -> Column:
    """The values a profile describes: numbers as doubles with NaN as null; an element of a vector."""
    column = _quoted(name)
    if index is not None:
        from pyspark.ml.functions import vector_to_array  # pyspark 3.5 imports pandas with it: only when needed

        return vector_to_array(column)[index]
    if kind == "numeric":
        as_double = column.cast("double")
        return F.when(~F.isnan(as_double), as_double) if isinstance(data_type, (DoubleType, FloatType)) else as_double
    return column


def _targets(model: PipelineModel, card: ModelCard, data: DataFrame) -> tuple[list[_Target], DataFrame, int]:
    """What to profile, the frame to profile it on (transformed when the model predicts), and how many of the
    targets are features."""
    types = {f.name: f.dataType for f in data.schema.fields}
    _require_columns(card, data, "training data")
    targets = []
    for name in model_reads(card):
        kind = _kind(types[name])
        targets.append(_Target(name, types[name].simpleString(), kind, value_column(name, types[name], kind)))
    features = len(targets)
    predictor = _predictor(model)
    prediction = _param(predictor, "predictionCol") if predictor is not None else None
    if predictor is None or prediction is None:
        return targets, data, features
    scored = model.transform(data)
    shown: Kind = "numeric" if task(predictor) == "regression" else "categorical"
    prediction_type = scored.schema[prediction].dataType
    targets.append(
        _Target(prediction, prediction_type.simpleString(), shown, value_column(prediction, prediction_type, shown))
    )
    probability = _param(predictor, "probabilityCol")
    if task(predictor) == "binary" and probability is not None and probability in scored.columns:
        positive = value_column(probability, DoubleType(), "numeric", 1)
        targets.append(_Target(probability, "double", "numeric", positive, 1))
    return targets, scored, features


def _require_columns(card: ModelCard, data: DataFrame, what: str) -> None:
    """Refuse data without a column the model reads, before Spark fails on it with an analysis error."""
    missing = [name for name in model_reads(card) if name not in data.columns]
    if missing:
        raise InvalidInput(
            f"The {what} has no column {', '.join(map(repr, missing))}, which the model reads (its columns: "
            f"{data.columns}). Pass the DataFrame the model was trained on (or scores), with every input column."
        )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _key(target: _Target, index: int, edges: Sequence[float]) -> Column:
    """Numeric: the decile bin (see :func:`registry.profile.numeric_bin`); categorical: the value; as a string."""
    column = F.col(f"_c{index}")
    if target.kind == "categorical":
        return column.cast("string")
    binned = F.when(column.isNull(), F.lit(None))
    for position, edge in enumerate(edges):
        binned = binned.when(column <= F.lit(edge), F.lit(position))
    return binned.otherwise(F.lit(len(edges))).cast("string")


def _typed(target: _Target, key: str) -> Value:
    if target.type == "boolean":
        return key == "true"
    return key if target.type == "string" else float(key)


def _sample_fraction(card: ModelCard, sample_rows: int) -> float:
    """The share of rows the quantiles and bin shares are computed from: all, up to ``sample_rows`` (the row count
    is the card's, from the fingerprint job that ran before)."""
    rows = (card.training_data or {}).get("rows")
    if isinstance(rows, int) and not isinstance(rows, bool) and rows > sample_rows:
        return sample_rows / rows
    return 1.0


@dataclass(frozen=True)
class _Moments:
    """What the pass over every row found for one target."""

    count: int
    min: float | None
    max: float | None
    mean: float | None
    stddev: float | None


def _slot_count(spark: SparkSession) -> int:
    """How many targets one entry of :func:`_moments` carries: its aggregation buffer (two fields, plus five per
    target) must stay within ``spark.sql.codegen.maxFields``, above which Spark runs the aggregation without
    whole-stage code generation, several times slower."""
    limit = int(str(spark.conf.get("spark.sql.codegen.maxFields", "100")))
    return max(1, (limit - 2) // 5)


def _moments(frame: DataFrame, targets: Sequence[_Target], shifts: Mapping[int, float]) -> tuple[int, list[_Moments]]:
    """The row count, and count, min, max, mean and stddev of every target over every row of ``frame``: one grouped
    aggregation of declarative aggregates (count, min, max, sum of the value less ``shifts[i]`` and of its square;
    the shift, a sample median, keeps the variance free of cancellation). Each row becomes one entry per block of
    :func:`_slot_count` targets, so the aggregation is generated code whatever the number of targets."""
    per_block = _slot_count(frame.sparkSession)
    blocks = max(1, math.ceil(len(targets) / per_block))
    width = math.ceil(len(targets) / blocks)
    entries = []
    for block in range(blocks):
        slots = [F.lit(block).alias("block")]
        for slot in range(width):
            i = block * width + slot
            value, shifted = F.lit(None).cast("double"), F.lit(None).cast("double")
            if i < len(targets):
                column = F.col(f"_c{i}")
                value = column if targets[i].kind == "numeric" else F.when(column.isNotNull(), F.lit(0.0))
                shifted = value - F.lit(shifts.get(i, 0.0))
            slots += [value.alias(f"x{slot}"), shifted.alias(f"d{slot}")]
        entries.append(F.struct(*slots))
    aggregates = [F.count(F.lit(1)).alias("rows")]
    for slot in range(width):
        x, d = F.col(f"x{slot}"), F.col(f"d{slot}")
        aggregates += [
            F.count(x).alias(f"n{slot}"),
            F.min(x).alias(f"min{slot}"),
            F.max(x).alias(f"max{slot}"),
            F.sum(d).alias(f"s{slot}"),
            F.sum(d * d).alias(f"ss{slot}"),
        ]
    exploded = frame.select(F.explode(F.array(*entries)).alias("e")).select("e.*")
    found = {int(row["block"]): row for row in exploded.groupBy("block").agg(*aggregates).collect()}
    rows = int(found[0]["rows"]) if found else 0
    moments = []
    for i in range(len(targets)):
        row, slot = found.get(i // width), i % width
        count = int(row[f"n{slot}"]) if row is not None else 0
        if row is None or not count:
            moments.append(_Moments(count, None, None, None, None))
            continue
        shift, total, squares = shifts.get(i, 0.0), float(row[f"s{slot}"]), float(row[f"ss{slot}"])
        variance = max(0.0, (squares - total * total / count) / (count - 1)) if count > 1 else math.nan
        moments.append(
            _Moments(
                count,
                _finite(row[f"min{slot}"]),
                _finite(row[f"max{slot}"]),
                _finite(shift + total / count),
                _finite(math.sqrt(variance)) if math.isfinite(variance) else None,
            )
        )
    return rows, moments


def _shares(
    sample: DataFrame, targets: Sequence[_Target], edges: Mapping[int, Sequence[float]]
) -> tuple[dict[int, list[tuple[str, float]]], dict[int, int]]:
    """In ``sample``: per target, the :data:`~registry.profile.TOP_VALUES` most frequent keys (numeric: decile bins)
    with their shares of the non-null values, and how many distinct keys there are; one grouped count over
    ``(target, key)`` pairs."""
    counted = [i for i, t in enumerate(targets) if t.kind != "unprofiled"]
    found: dict[int, list[tuple[str, float]]] = {i: [] for i in counted}
    distinct: dict[int, int] = {}
    if not counted:
        return found, distinct
    pairs = F.explode(
        F.array(*(F.struct(F.lit(i).alias("i"), _key(targets[i], i, edges.get(i, ())).alias("k")) for i in counted))
    )
    counts = sample.select(pairs.alias("p")).select("p.i", "p.k").where(F.col("k").isNotNull()).groupBy("i", "k")
    column_window = Window.partitionBy("i")
    ranked = (
        counts.count()
        .withColumn("rank", F.row_number().over(column_window.orderBy(F.desc("count"), F.asc("k"))))
        .withColumn("total", F.sum("count").over(column_window))
        .withColumn("keys", F.count(F.lit(1)).over(column_window))
    )
    for row in ranked.where(F.col("rank") <= TOP_VALUES).collect():
        found[int(row["i"])].append((str(row["k"]), int(row["count"]) / int(row["total"])))
        distinct[int(row["i"])] = int(row["keys"])
    return found, distinct


def training_profile(
    model: PipelineModel, card: ModelCard, data: DataFrame, *, sample_rows: int = SAMPLE_ROWS
) -> Profile:
    """The profile of ``data`` as ``model`` (described by ``card``) reads it; two passes over ``data`` (module
    docstring).

    :param sample_rows: above this many rows (the card's ``training_data.rows``), quantiles and shares come from a
        sample of about this many.
    """
    targets, scored, feature_count = _targets(model, card, data)
    fraction = _sample_fraction(card, sample_rows)
    values = [t.value.alias(f"_c{i}") for i, t in enumerate(targets)]
    frame = scored.select(*values)
    if fraction < 1.0:
        sampled = data.sample(fraction=fraction, seed=_SEED)
        sample = (model.transform(sampled) if scored is not data else sampled).select(*values)
    else:
        sample = frame
    known_size = isinstance((card.training_data or {}).get("rows"), int)
    if known_size:  # at most about sample_rows rows, read by the next two jobs
        sample = sample.cache()
    try:
        numeric = [i for i, t in enumerate(targets) if t.kind == "numeric"]
        quantiles: dict[int, list[float | None]] = {i: [] for i in numeric}
        if numeric:
            accuracy = round(1 / RELATIVE_ERROR)
            found = sample.agg(
                *(F.percentile_approx(F.col(f"_c{i}"), list(DECILES), accuracy).alias(f"q{i}") for i in numeric)
            ).first()
            assert found is not None  # a global aggregate always has one row
            quantiles = {i: [_finite(q) for q in found[f"q{i}"] or []] for i in numeric}
        edges = {i: tuple(sorted({e for e in quantiles[i] if e is not None})) for i in numeric}
        shares, distinct = _shares(sample, targets, edges)
        median = DECILES.index(0.5)
        shifts = {i: shift for i, q in quantiles.items() if len(q) > median and (shift := q[median]) is not None}
        rows, moments = _moments(frame, targets, shifts)  # reads the cached sample when it is all the rows
    finally:
        if known_size:
            sample.unpersist()
    columns = []
    for i, (target, seen) in enumerate(zip(targets, moments, strict=True)):
        common: dict[str, Any] = {
            "name": target.name,
            "type": target.type,
            "kind": target.kind,
            "count": seen.count,
            "nulls": rows - seen.count,
            "index": target.index,
        }
        if target.kind == "numeric":
            bins = [0.0] * (len(edges[i]) + 1)
            for key, share in shares.get(i, []):
                bins[int(key)] = share
            columns.append(
                ColumnProfile(
                    **common,
                    min=seen.min,
                    max=seen.max,
                    mean=seen.mean,
                    stddev=seen.stddev,
                    edges=edges[i],
                    fractions=tuple(bins),
                )
            )
        elif target.kind == "categorical":
            top = tuple((_typed(target, key), share) for key, share in shares.get(i, []))
            columns.append(
                ColumnProfile(
                    **common,
                    distinct=distinct.get(i, 0),
                    top=top,
                    other=max(0.0, 1.0 - sum(f for _, f in top)) if seen.count else 0.0,
                )
            )
        else:
            columns.append(ColumnProfile(**common))
    extra = columns[feature_count:]
    return Profile(
        rows=rows,
        relative_error=RELATIVE_ERROR,
        sample_fraction=fraction,
        features=tuple(columns[:feature_count]),
        prediction=extra[0] if extra else None,
        probability=extra[1] if len(extra) > 1 else None,
    )


def evaluation_metrics(model: PipelineModel, card: ModelCard, data: DataFrame) -> dict[str, float]:
    """The metrics of the Spark evaluator that matches the model's last predicting stage, on ``data``.

    :raises InvalidInput: the model predicts nothing a Spark evaluator scores (no classifier or regressor), or
        ``data`` has no label column.
    """
    predictor = _predictor(model)
    kind = task(predictor) if predictor is not None else "clustering"
    label = _param(predictor, "labelCol") if predictor is not None else None
    if predictor is None or kind == "clustering" or label is None:
        raise InvalidInput(
            "evaluation_data needs a model whose last predicting stage is a classifier or a regressor; "
            "compute the metrics yourself and pass metrics= instead."
        )
    _require_columns(card, data, "evaluation data")
    scored = model.transform(data)
    if label not in scored.columns:
        raise InvalidInput(
            f"The evaluation data has no label column {label!r} (the labelCol of {type(predictor).__name__}); "
            f"its columns are {data.columns}. Pass data with the label, or metrics= instead."
        )
    prediction = _param(predictor, "predictionCol") or "prediction"
    evaluator: Evaluator
    if kind == "binary":
        raw = _param(predictor, "rawPredictionCol") or "rawPrediction"
        evaluator = BinaryClassificationEvaluator(rawPredictionCol=raw, labelCol=label)
    elif kind == "multiclass":
        evaluator = MulticlassClassificationEvaluator(predictionCol=prediction, labelCol=label)
    else:
        evaluator = RegressionEvaluator(predictionCol=prediction, labelCol=label)
    metrics: dict[str, float] = {}
    for name in _METRICS[kind]:
        value = float(evaluator.evaluate(scored, {evaluator.getParam("metricName"): name}))
        if math.isfinite(value):  # e.g. areaUnderROC of data with a single class
            metrics[name] = value
    return metrics


def profiled_card(
    card: ModelCard,
    model: PipelineModel,
    spark: SparkSession,
    *,
    training_data: DataFrame | str | None,
    evaluation_data: DataFrame | None,
) -> ModelCard:
    """``card`` with the training profile, the evaluation data's fingerprint, and the evaluation metrics merged
    under the card's own (explicit ``metrics=`` win)."""
    profile = None
    if training_data is not None:
        frame = training_data if isinstance(training_data, DataFrame) else _read(spark, training_data)[0]
        profile = training_profile(model, card, frame).to_dict()
    if evaluation_data is None:
        return dataclasses.replace(card, profile=profile)
    computed = evaluation_metrics(model, card, evaluation_data)
    evaluation = {**training_data_summary(evaluation_data, spark), "metrics": computed}
    return dataclasses.replace(card, profile=profile, evaluation_data=evaluation, metrics={**computed, **card.metrics})
