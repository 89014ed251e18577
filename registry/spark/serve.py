"""Serve a released model over HTTP: ``registry serve com.acme:churn:latest.release --reload 30``.

:class:`SparkEngine` holds the model serving now and scores batches of requests for the micro-batcher of
:mod:`registry.serving` (the HTTP side, with no Spark in it). :func:`serve` runs both under uvicorn.

**Why it is fast.** Spark runs a job per action, and a job costs tens of milliseconds however small its input. A
batch never starts one: its records go to the JVM as JSON lines in one call, become a local relation
(``from_json`` over ``createDataset``), and the optimizer folds the whole pipeline over that relation
(``ConvertToLocalRelation``), so ``collect()`` evaluates it on the driver thread. The pipeline is the JVM's own
``PipelineModel`` (one call per transform, not one per stage and param), and only the prediction, the
probabilities (as an array) and the watermark are collected.

**Types are checked** against the card's input schema (:mod:`registry.payload`) before a request is queued, so a
mistyped column is a 400 and never reaches a batch. A batch that still fails (a model that refuses a value it
was given, e.g. ``null`` to a ``VectorAssembler``) is retried request by request: only the requests that fail
alone get the error (422).

**Reload.** With a selector (``latest.release``, ``1.2``) and ``reload``, a thread reads the repository's
metadata every ``reload`` seconds; a newer build is loaded and must answer a warm-up request (the last records a
client sent, else made-up ones) before it replaces the serving one, in one assignment between two batches: no
request is dropped or failed. A build that fails to load or to answer is logged, skipped, and the old one keeps
serving.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.ml.feature import SQLTransformer
from pyspark.ml.linalg import VectorUDT
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from registry.coordinates import Coordinate
from registry.modelcard import ModelCard
from registry.payload import InputColumn, Signature
from registry.resolve import resolve as resolve_dir
from registry.serving import ReloadingEngine, ServeOptions, run_server
from registry.settings import Settings
from registry.spark.card import describe_model
from registry.spark.resolve import load_model
from registry.spark.runtime import check_spark_version
from registry.spark.score import local_session
from registry.spark.watermark import Watermark, find_watermark

__all__ = ["LATENCY_CONF", "SparkEngine", "serve"]

log = logging.getLogger("registry.serve")

#: A local session tuned for latency: every core, one shuffle partition, no UI, no progress bars.
LATENCY_CONF = {
    "spark.master": "local[*]",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "false",
}
_WARMUP_VALUES = {"string": "", "boolean": False, "date": "1970-01-01", "timestamp": "1970-01-01T00:00:00Z"}


def _first_line(exc: BaseException) -> str:
    java = getattr(exc, "java_exception", None)
    text = str(java.toString() if java is not None else exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _finite(value: Any) -> Any:
    return value if not isinstance(value, float) or math.isfinite(value) else None


def _made_up(column: InputColumn) -> Any:
    if column.type.startswith("array<"):
        return []
    if column.type in _WARMUP_VALUES:
        return _WARMUP_VALUES[column.type]
    return 0 if column.type in {"tinyint", "smallint", "int", "bigint"} else 0.0


class _Loaded:
    """One loaded build: the JVM pipeline, and what it takes to score a batch with it."""

    def __init__(self, spark: SparkSession, resolved: Coordinate, model: PipelineModel, card: ModelCard | None) -> None:
        self.spark = spark
        self.resolved = resolved
        coordinate = str(resolved)
        self.model = model
        described = card.model if card is not None and card.model else describe_model(model)
        input_schema = card.input_schema if card is not None else None
        self.signature = Signature.from_card(described, input_schema)
        if not self.signature.typed:
            log.warning(
                "The card of %s records no input schema: every input column is read as a double. Deploy with "
                "training_data=<the training DataFrame> to have the types checked.",
                coordinate,
            )
        watermark = find_watermark(model)
        self.coordinate = watermark.value if watermark is not None else coordinate
        stages = list(model.stages)
        last = stages[-1] if stages else None
        trailing = (
            Watermark.parse(last.getStatement())
            if isinstance(last, SQLTransformer) and last.isDefined(last.statement)
            else None
        )
        # One JVM call per transform, not one per stage and param. A trailing watermark stage adds a literal: it is
        # added by the select below instead, which saves a temporary view and a SQL statement per batch (measured:
        # the larger part of the cost of a transform of an assembler + logistic regression).
        self.java = (PipelineModel(stages[:-1]) if trailing is not None else model)._to_java()
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        self._jvm = jvm
        self._encoder = jvm.org.apache.spark.sql.Encoders.STRING()
        self._lines = jvm.java.util.regex.Pattern.compile("\n")
        ddl = ", ".join(f"`{c.name.replace('`', '``')}` {c.type}" for c in self.signature.inputs)
        self._parse = F.from_json(F.col("value"), ddl).alias("r")
        output = model.transform(self._frame([self._made_up_row()]))
        probability = self.signature.probability
        if probability is not None and probability not in output.columns:
            probability = None
        self._outputs: list[Column] = [F.col(self.signature.prediction)]
        if probability is not None:
            is_vector = isinstance(output.schema[probability].dataType, VectorUDT)
            from pyspark.ml.functions import vector_to_array  # pyspark 3.5 imports pandas with it

            self._outputs.append((vector_to_array(F.col(probability)) if is_vector else F.col(probability)).alias("p"))
        self.has_probability = probability is not None
        self._stamped = watermark is not None
        if trailing is not None:
            self._outputs.append(F.lit(trailing.value).alias(trailing.column))
        elif watermark is not None:
            self._outputs.append(F.col(watermark.column))
        self.summary = _summary(card, self.signature, described)

    def _made_up_row(self) -> dict[str, Any]:
        return {c.name: _made_up(c) for c in self.signature.inputs}

    def _frame(self, rows: Sequence[Mapping[str, Any]]) -> DataFrame:
        """The rows as a local relation, typed by the signature: one JVM call for the data."""
        text = "\n".join(json.dumps(row, separators=(",", ":")) for row in rows)
        lines = self._lines.splitAsStream(text).toList()
        strings = DataFrame(self.spark._jsparkSession.createDataset(lines, self._encoder).toDF(), self.spark)
        return strings.select(self._parse).select("r.*")

    def score(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[list[float]] | None, str]:
        """Predictions, probabilities and the coordinate that made them, for ``rows`` in order."""
        frame = self._frame(rows)
        output = DataFrame(self.java.transform(frame._jdf), self.spark).select(*self._outputs)
        collected = output.collect()
        predictions = [_finite(r[0]) for r in collected]
        probabilities = [[_finite(p) for p in r[1]] if r[1] is not None else [] for r in collected]
        # The watermark is what the model says it is: the coordinate stamped into it at deploy.
        coordinate = str(collected[0][-1]) if collected and self._stamped else self.coordinate
        return predictions, probabilities if self.has_probability else None, coordinate

    def warm_up(self, rows: Sequence[Mapping[str, Any]] | None) -> None:
        """Answer ``rows`` (if they fit this build's inputs), else made-up ones; raises what the model raises."""
        usable = rows if rows and all(c.name in rows[0] for c in self.signature.inputs) else None
        for _ in range(3):  # the first transform of a pipeline compiles its code; the next ones show it answers
            self.score(usable or [self._made_up_row()])


def _summary(card: ModelCard | None, signature: Signature, described: Mapping[str, Any]) -> dict[str, Any]:
    stages = [str(s.get("class", "?")).rsplit(".", 1)[-1] for s in described.get("stages", []) if isinstance(s, dict)]
    summary: dict[str, Any] = {
        "inputs": [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in signature.inputs],
        "prediction": signature.prediction,
        "probability": signature.probability,
        "stages": stages,
        "loaded": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    if card is not None:
        training = card.training_data or {}
        summary.update(
            created=card.created,
            description=card.description,
            labels=list(card.labels),
            metrics=dict(card.metrics),
            training_rows=training.get("rows"),
            previous=card.previous,
        )
    return summary


class SparkEngine(ReloadingEngine[_Loaded]):
    """The model serving now, the batches it scores, and the thread that reloads newer builds.

    :param spec: ``GROUP:ARTIFACT:SELECTOR``; with a dynamic selector and ``reload``, newer builds replace it.
    :param reload: seconds between two reads of the repository's metadata; ``None``: never.
    :param allow_spark_mismatch: serve builds saved by a newer Spark than the session's (normally refused).
    """

    # Any failure of a transform is the records' (a model that refuses a value it was given); a build that does
    # not answer made-up values at start may still answer real ones.
    _REFUSED = (Exception,)
    _WARM_UP_REFUSED = (Exception,)

    def __init__(
        self,
        spark: SparkSession,
        spec: str,
        *,
        repository: str | None = None,
        settings: Settings | None = None,
        reload: float | None = None,
        allow_spark_mismatch: bool = False,
    ) -> None:
        self._spark = spark
        self._allow_spark_mismatch = allow_spark_mismatch
        super().__init__(spec, repository=repository, settings=settings, reload=reload)

    def _explain(self, exc: BaseException) -> str:
        return _first_line(exc)

    def _load(self, coordinate: Coordinate) -> _Loaded:
        # The spark session is passed on: this runs on the reload thread too, where no session is active.
        resolved = resolve_dir(coordinate, repository=self._repository, settings=self._settings)
        tools = resolved.card.tools if resolved.card is not None else None
        check_spark_version(tools, self._spark, str(coordinate), allow_spark_mismatch=self._allow_spark_mismatch)
        model = load_model(self._spark, resolved)
        return _Loaded(self._spark, resolved.coordinate, model, resolved.card)


def serve(options: ServeOptions, *, conf: Mapping[str, str] | None = None, allow_spark_mismatch: bool = False) -> None:
    """Serve ``options.spec`` over HTTP until interrupted (see :mod:`registry.serving` for the routes).

    :param conf: Spark settings on top of :data:`LATENCY_CONF` (``spark.driver.memory``, ...).
    :param allow_spark_mismatch: serve builds saved by a newer Spark than the session's (normally refused).
    :raises InvalidModel: the model's inputs cannot be sent as JSON, or it predicts nothing.
    """
    # Resolved (and cached) before a JVM starts: a version that does not exist is said at once, as resolve says it.
    resolve_dir(options.spec, repository=options.repository, settings=options.settings)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark, started = local_session("registry serve", {**LATENCY_CONF, **(conf or {})})
    engine: SparkEngine | None = None
    try:
        engine = SparkEngine(
            spark,
            options.spec,
            repository=options.repository,
            settings=options.settings,
            reload=options.reload,
            allow_spark_mismatch=allow_spark_mismatch,
        )
        run_server(engine, options)
    finally:
        if engine is not None:
            engine.close()
        if started:
            spark.stop()
