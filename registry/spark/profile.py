"""What a deploy learns from data: the training profile (:mod:`registry.profile`) and evaluation metrics.

**The profile** describes every column the model reads at transform time (the inputs of its stages that no earlier
stage produces; a fitted model does not read its label), plus the model's own prediction and, for a binary
classifier, the probability of the positive class, all on the training data. It reads the data twice whatever the
number of columns:

1. one aggregation over every row of the data as it is (not transformed): the rows, and count, min, max, mean and
   stddev of every feature (:func:`_moments`; before it, a short job reads the first rows for the shifts that keep
   the variance exact, :func:`_shifts`); a deploy's training data fingerprint joins it (no pass of its own),
   and its row count sets the sample's fraction;
2. a uniform sample of about :data:`SAMPLE_ROWS` rows (all of them below that; ``sample_fraction`` in the profile),
   transformed by the model and brought to the driver through Arrow, where numpy finds the deciles of every
   numeric column (exact in the sample: ``relative_error`` 0), the share of each decile bin, and the
   :data:`~registry.profile.TOP_VALUES` most frequent values of each categorical one and how many distinct values
   it has; the prediction and probability are described from the sample alone (scoring every training row would
   cost more than all the rest).

A share estimated from 50,000 rows has a standard error of at most 0.0022, and sampling alone makes a PSI of
about 0.0002 between two samples of the same data (bins less one, over the rows), far below the 0.1 at which a
feature starts drifting; the quantile and bin work stops growing with the data (100,000 rows cost a sixth more of
the whole profile and tell nothing more). The features' counts, nulls, min, max, mean and stddev are always
of every row. Measured in ``benchmarks/RESULTS.md`` (section 11): on 1M rows x 20 columns, the profile costs about a
quarter of a light fit, fingerprint included.

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

import numpy as np
from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.classification import ClassificationModel
from pyspark.ml.evaluation import (
    BinaryClassificationEvaluator,
    Evaluator,
    MulticlassClassificationEvaluator,
    RegressionEvaluator,
)
from pyspark.ml.regression import RegressionModel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DataType, DoubleType, FloatType, NumericType, StringType

from registry.exceptions import InvalidInput
from registry.modelcard import ModelCard
from registry.profile import DECILES, TOP_VALUES, ColumnProfile, Kind, Profile, Value
from registry.spark.card import (
    data_record,
    fingerprint,
    fingerprint_aggregates,
    row_hash,
    sql_name,
    training_data_source,
    training_data_summary,
)

__all__ = ["evaluation_metrics", "model_reads", "profiled_card", "task", "training_profile"]

Task = Literal["binary", "multiclass", "regression", "clustering"]
#: The quantiles and the shares of bins and values come from a uniform sample of about this many rows.
SAMPLE_ROWS = 50_000
_SEED = 20_240_501
#: The first rows that give the variance's shifts (:func:`_shifts`).
_PEEK_ROWS = 64
_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("areaUnderROC", "areaUnderPR"),
    "multiclass": ("f1", "accuracy"),
    "regression": ("rmse", "r2", "mae"),
}


def model_reads(card: ModelCard) -> list[str]:
    """The columns a fitted model reads from its input at transform time (:attr:`ModelCard.features`, that is
    :func:`registry.reads.model_reads`)."""
    return list(card.features)


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


def _kind(data_type: DataType) -> Kind:
    if isinstance(data_type, (StringType, BooleanType)):
        return "categorical"
    if isinstance(data_type, NumericType):
        return "numeric"
    return "unprofiled"


@dataclass(frozen=True)
class _Target:
    """One column to profile: its name in the card, how it is profiled, and the SQL of its values (for an element
    of a vector, ``index``: the column itself, the element taken by :func:`_values`)."""

    name: str
    type: str
    kind: Kind
    value: str
    index: int | None = None


def value_sql(name: str, data_type: DataType, kind: Kind) -> str:
    """The SQL of the values a profile describes: numbers as doubles with NaN as null (SQL text: on a classic
    session every function built in Python is a dozen calls into the JVM)."""
    column = sql_name(name)
    if kind != "numeric":
        return column
    as_double = f"CAST({column} AS DOUBLE)"
    return f"nanvl({as_double}, NULL)" if isinstance(data_type, (DoubleType, FloatType)) else as_double


def value_column(name: str, data_type: DataType, kind: Kind, index: int | None = None) -> Column:
    """The values a profile describes (:func:`value_sql`), or an element of a vector."""
    if index is None:
        return F.expr(value_sql(name, data_type, kind))
    from pyspark.ml.functions import vector_to_array  # pyspark 3.5 imports pandas with it: only when needed

    return vector_to_array(F.col(sql_name(name)))[index]


def _features(card: ModelCard, data: DataFrame) -> list[_Target]:
    """The columns the model reads, to profile."""
    types = {f.name: f.dataType for f in data.schema.fields}
    _require_columns(card, data, "training data")
    targets = []
    for name in model_reads(card):
        kind = _kind(types[name])
        targets.append(_Target(name, types[name].simpleString(), kind, value_sql(name, types[name], kind)))
    return targets


def _outputs(model: PipelineModel, data: DataFrame) -> tuple[DataFrame, list[_Target]]:
    """``data`` scored by the model, and its outputs to profile (the prediction; for a binary classifier the
    probability of the positive class); ``data`` itself where the model predicts nothing."""
    predictor = _predictor(model)
    prediction = _param(predictor, "predictionCol") if predictor is not None else None
    if predictor is None or prediction is None:
        return data, []
    scored = model.transform(data)
    shown: Kind = "numeric" if task(predictor) == "regression" else "categorical"
    prediction_type = scored.schema[prediction].dataType
    value = value_sql(prediction, prediction_type, shown)
    outputs = [_Target(prediction, prediction_type.simpleString(), shown, value)]
    probability = _param(predictor, "probabilityCol")
    if task(predictor) == "binary" and probability is not None and probability in scored.columns:
        outputs.append(_Target(probability, "double", "numeric", sql_name(probability), 1))
    return scored, outputs


def _values(frame: DataFrame, targets: Sequence[_Target]) -> DataFrame:
    """The values of ``targets`` in ``frame``, as columns ``_c{i}``."""
    values = frame.selectExpr(*(f"{t.value} AS _c{i}" for i, t in enumerate(targets)))
    for i, target in enumerate(targets):
        if target.index is not None:  # an element of a vector, which no SQL function takes
            values = values.withColumn(f"_c{i}", value_column(f"_c{i}", DoubleType(), "numeric", target.index))
    return values


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


@dataclass(frozen=True)
class _Moments:
    """What the pass over every row found for one target."""

    count: int
    min: float | None
    max: float | None
    mean: float | None
    stddev: float | None


def _shifts(frame: DataFrame, targets: Mapping[int, _Target]) -> dict[int, float]:
    """A value of each numeric target ``i`` (column ``_c{i}`` of ``frame``) from the first rows Spark finds (a
    short job over one partition): the shift that keeps the sums of :func:`_moments` free of cancellation. Any value
    of the data serves (a plain sum of squares of values near 1e9 loses the variance entirely; less the value of
    one row, the sums lose at most ``(distance / stddev)**2`` units in the last place)."""
    numeric = [i for i, target in targets.items() if target.kind == "numeric"]
    if not numeric:
        return {}
    shifts: dict[int, float] = {}
    for row in frame.selectExpr(*(f"_c{i}" for i in numeric)).limit(_PEEK_ROWS).collect():
        for i in numeric:
            value = row[f"_c{i}"]
            if i not in shifts and value is not None and math.isfinite(float(value)):
                shifts[i] = float(value)
    return shifts


def _moments(
    frame: DataFrame, targets: Mapping[int, _Target], shifts: Mapping[int, float]
) -> tuple[tuple[int, str], dict[int, _Moments]]:
    """The rows and fingerprint of the data (``frame`` holds its :func:`~registry.spark.card.row_hash` as ``_h``),
    and count, min, max, mean and stddev of each target ``i`` (its column ``_c{i}``): one aggregation of
    declarative aggregates (count; for a number also min, max, and the sums of the value less ``shifts[i]`` and of
    its square; Spark's own ``stddev`` costs three times as much)."""
    aggregates = fingerprint_aggregates()
    for i, target in targets.items():
        aggregates.append(f"count(_c{i}) AS n{i}")
        if target.kind == "numeric":
            shifted = f"(_c{i} - CAST('{shifts.get(i, 0.0)!r}' AS DOUBLE))"
            aggregates += [
                f"min(_c{i}) AS min{i}",
                f"max(_c{i}) AS max{i}",
                f"sum({shifted}) AS s{i}",
                f"sum({shifted} * {shifted}) AS ss{i}",
            ]
    row = frame.selectExpr(*aggregates).first()
    assert row is not None  # a global aggregate always has one row
    moments = {}
    for i, target in targets.items():
        count = int(row[f"n{i}"])
        if target.kind != "numeric" or not count:
            moments[i] = _Moments(count, None, None, None, None)
            continue
        shift, total, squares = shifts.get(i, 0.0), float(row[f"s{i}"]), float(row[f"ss{i}"])
        variance = max(0.0, (squares - total * total / count) / (count - 1)) if count > 1 else math.nan
        moments[i] = _Moments(
            count,
            _finite(row[f"min{i}"]),
            _finite(row[f"max{i}"]),
            _finite(shift + total / count),
            _finite(math.sqrt(variance)) if math.isfinite(variance) else None,
        )
    return fingerprint(row), moments


def _local(frame: DataFrame) -> dict[str, np.ndarray[Any, Any]]:
    """The (sampled, small) ``frame`` on the driver, a numpy array per column: through Arrow (pyspark 4's
    ``toArrow``, classic and Connect; pyspark 3.5's ``toPandas``, with Arrow where the session enables it)."""
    if hasattr(frame, "toArrow"):
        table = frame.toArrow()
        return {name: table.column(name).to_numpy() for name in table.column_names}
    pandas: Any = frame.toPandas()
    return {str(name): pandas[name].to_numpy() for name in pandas.columns}


def _present(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The values that are neither null nor NaN."""
    if values.dtype.kind == "f":
        return np.asarray(values[~np.isnan(values)])
    if values.dtype == object:
        return np.asarray(values[np.fromiter((v is not None and v == v for v in values), bool, len(values))])
    return values


@dataclass(frozen=True)
class _Shares:
    """What the sample shows of one target: its present values, its bin edges (numeric) and the shares of its most
    frequent keys (a numeric's decile bins, a categorical's values), most frequent first; ``keys``: how many
    distinct."""

    present: np.ndarray[Any, Any]
    edges: tuple[float, ...] = ()
    top: tuple[tuple[Any, float], ...] = ()
    keys: int = 0


def _shares(target: _Target, values: np.ndarray[Any, Any]) -> _Shares:
    """Numeric: the deciles of the sample (``percentile_approx``'s definition, exact: the least value with at least
    that share of values at or below it), duplicates removed, and the share of each bin (see
    :func:`registry.profile.numeric_bin`); categorical: the :data:`~registry.profile.TOP_VALUES` most frequent
    values (ties in the order of the values) and how many distinct values there are."""
    if target.kind == "numeric":
        present = _present(np.asarray(values, dtype=float))
        if not present.size:
            return _Shares(present)
        edges = tuple(sorted({float(e) for e in np.quantile(present, DECILES, method="inverted_cdf")}))
        counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
        return _Shares(present, edges, tuple((k, int(c) / present.size) for k, c in enumerate(counts)), len(counts))
    present = _present(values)
    if target.kind != "categorical" or not present.size:
        return _Shares(present)
    import pandas  # counts by hashing (numpy's unique sorts every value); with pyspark.ml, pandas is there

    counted = pandas.Series(present).value_counts(sort=False)
    keys, counts = counted.index.to_numpy(), counted.to_numpy()
    by_key = np.argsort(keys, kind="stable")  # ties in the order of the values
    order = by_key[np.argsort(-counts[by_key], kind="stable")][:TOP_VALUES]
    top = tuple((_plain(target, keys[j]), int(counts[j]) / present.size) for j in order)
    return _Shares(present, (), top, len(keys))


def _plain(target: _Target, value: Any) -> Value:
    if target.type == "boolean":
        return bool(value)
    return str(value) if target.type == "string" else float(value)


def _sampled_moments(shares: _Shares, target: _Target, rows: int, sampled_rows: int) -> _Moments:
    """The moments of a target seen in the sample only, its count scaled to all ``rows``."""
    present = shares.present
    count = round(present.size * rows / sampled_rows) if sampled_rows else 0
    if target.kind != "numeric" or not present.size:
        return _Moments(count, None, None, None, None)
    spread = float(np.std(present, ddof=1)) if present.size > 1 else None
    return _Moments(count, float(present.min()), float(present.max()), float(present.mean()), spread)


def training_profile(
    model: PipelineModel, card: ModelCard, data: DataFrame, *, sample_rows: int = SAMPLE_ROWS
) -> Profile:
    """The profile of ``data`` as ``model`` (described by ``card``) reads it; two passes over ``data`` (module
    docstring).

    :param sample_rows: above this many rows, quantiles and shares come from a sample of about this many.
    """
    return _profile(model, card, data, sample_rows)[0]


def _profile(
    model: PipelineModel, card: ModelCard, data: DataFrame, sample_rows: int
) -> tuple[Profile, tuple[int, str]]:
    """The profile (:func:`training_profile`) and the rows and fingerprint of ``data``, found by its first pass."""
    features = _features(card, data)
    frame = data.selectExpr(f"{row_hash(data)} AS _h", *(f"{t.value} AS _c{i}" for i, t in enumerate(features)))
    measured = dict(enumerate(features))  # the first pass: every row, as it is (no scoring)
    counted, moments = _moments(frame, measured, _shifts(frame, measured))
    rows = counted[0]
    fraction = sample_rows / rows if rows > sample_rows else 1.0
    sampled = data.sample(fraction=fraction, seed=_SEED) if fraction < 1.0 else data
    scored, outputs = _outputs(model, sampled)
    targets = features + outputs
    local = _local(_values(scored, targets))  # the second pass: the sample, scored, on the driver
    sampled_rows = len(local["_c0"]) if targets else 0
    shares = [_shares(t, local[f"_c{i}"]) for i, t in enumerate(targets)]
    for i in range(len(features), len(targets)):  # the model's outputs: from the sample
        moments[i] = _sampled_moments(shares[i], targets[i], rows, sampled_rows)
    columns = []
    for i, target in enumerate(targets):
        seen = moments[i]
        common: dict[str, Any] = {
            "name": target.name,
            "type": target.type,
            "kind": target.kind,
            "count": seen.count,
            "nulls": rows - seen.count,
            "index": target.index,
        }
        found = shares[i]
        if target.kind == "numeric":
            columns.append(
                ColumnProfile(
                    **common,
                    min=seen.min,
                    max=seen.max,
                    mean=seen.mean,
                    stddev=seen.stddev,
                    edges=found.edges,
                    fractions=tuple(share for _, share in found.top),
                )
            )
        elif target.kind == "categorical":
            columns.append(
                ColumnProfile(
                    **common,
                    distinct=found.keys,
                    top=found.top,
                    other=max(0.0, 1.0 - sum(f for _, f in found.top)) if seen.count else 0.0,
                )
            )
        else:
            columns.append(ColumnProfile(**common))
    extra = columns[len(features) :]
    profile = Profile(
        rows=rows,
        relative_error=0.0,
        sample_fraction=fraction,
        features=tuple(columns[: len(features)]),
        prediction=extra[0] if extra else None,
        probability=extra[1] if len(extra) > 1 else None,
    )
    return profile, counted


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
    """``card`` with its training data (rows, fingerprint, where it is) and profile, found together (the fingerprint
    joins the profile's pass over every row), the evaluation data's fingerprint, and the evaluation metrics merged
    under the card's own (explicit ``metrics=`` win)."""
    if training_data is not None:
        frame, source = training_data_source(training_data, spark)
        profile, counted = _profile(model, card, frame, SAMPLE_ROWS)
        card = dataclasses.replace(card, training_data=data_record(counted, source), profile=profile.to_dict())
    if evaluation_data is None:
        return card
    computed = evaluation_metrics(model, card, evaluation_data)
    evaluation = {**training_data_summary(evaluation_data, spark), "metrics": computed}
    return dataclasses.replace(card, evaluation_data=evaluation, metrics={**computed, **card.metrics})
