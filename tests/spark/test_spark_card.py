"""What a deploy records about a Spark model: typed params, nested stages, the training-data fingerprint."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.feature import SQLTransformer
from pyspark.ml.linalg import DenseMatrix, SparseVector, Vectors
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from registry.coordinates import DeployTarget
from registry.exceptions import InvalidInput
from registry.spark.card import (
    describe_model,
    json_value,
    output_columns,
    training_data_summary,
)
from registry.spark.deploy import CardFacts, model_card

pytestmark = pytest.mark.spark


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Vectors.dense([1.0, 2.5]), [1.0, 2.5]),
        (SparseVector(3, {1: 4.0}), [0.0, 4.0, 0.0]),
        (DenseMatrix(2, 2, [1.0, 2.0, 3.0, 4.0]), [[1.0, 3.0], [2.0, 4.0]]),
        (np.array([1, 2]), [1, 2]),
        (np.float32(0.5), 0.5),
        (np.int64(7), 7),
        (np.bool_(True), True),
        (math.nan, "NaN"),
        (-math.inf, "-Infinity"),
        ({"a": (1, 2)}, {"a": [1, 2]}),
        (["x", None], ["x", None]),
    ],
)
def test_json_value(value: object, expected: object) -> None:
    assert json_value(value) == expected


def test_stage_params_are_typed(fitted: PipelineModel) -> None:
    described = describe_model(fitted)
    assert described["class"] == "org.apache.spark.ml.PipelineModel"
    assembler, lr, watermark = described["stages"]
    assert assembler["class"] == "org.apache.spark.ml.feature.VectorAssembler"
    assert assembler["params"]["inputCols"] == ["x", "y"]
    assert (assembler["input_cols"], assembler["output_cols"]) == (["x", "y"], ["features"])
    assert lr["class"] == "org.apache.spark.ml.classification.LogisticRegressionModel"
    assert lr["uid"] == fitted.stages[1].uid
    assert lr["params"]["maxIter"] == 5 and type(lr["params"]["maxIter"]) is int
    assert lr["params"]["regParam"] == 0.01 and type(lr["params"]["regParam"]) is float
    assert lr["params"]["fitIntercept"] is True
    assert "maxIter" not in lr["defaults"] and "tol" in lr["defaults"]
    assert "thresholds" not in lr["params"]  # neither set nor defaulted
    assert lr["input_cols"] == ["features"]  # the label is read at fit time, not by the fitted model
    assert lr["output_cols"] == ["prediction", "probability", "rawPrediction"]
    assert watermark["output_cols"] == ["pipeline"]
    assert output_columns(described) == ["features", "prediction", "probability", "rawPrediction", "pipeline"]


def test_nested_pipelines_are_nested(fitted: PipelineModel) -> None:
    outer = PipelineModel([SQLTransformer(statement="SELECT *, x * 2 AS x2 FROM __THIS__"), fitted])
    described = describe_model(outer)
    first, inner = described["stages"]
    assert first["params"]["statement"].startswith("SELECT *, x * 2")
    assert inner["class"] == "org.apache.spark.ml.PipelineModel"
    assert [s["class"].rsplit(".", 1)[-1] for s in inner["stages"]] == [
        "VectorAssembler",
        "LogisticRegressionModel",
        "SQLTransformer",
    ]
    assert output_columns(described)[-1] == "pipeline"


def test_fingerprint_ignores_row_order_and_partitioning(spark: SparkSession, train: DataFrame) -> None:
    first = training_data_summary(train, spark)
    shuffled = training_data_summary(train.orderBy(F.desc("x")).repartition(3), spark)
    assert first == shuffled
    assert first["rows"] == 60
    assert first["schema"] == "struct<id:bigint,x:double,y:double,label:double>"
    assert len(first["fingerprint"]) == 16
    changed = training_data_summary(train.withColumn("x", F.when(F.col("id") == 3, 0.0).otherwise(F.col("x"))), spark)
    assert changed["fingerprint"] != first["fingerprint"]
    assert first["source"] is None and first["table_version"] is None  # built in memory, not read from files


def test_fingerprint_is_the_sum_of_row_hashes_that_earlier_cards_recorded(
    spark: SparkSession, fitted: PipelineModel, train: DataFrame
) -> None:
    # Earlier releases summed each row's xxhash64 as a decimal; a card's fingerprint must stay comparable with
    # theirs (search by dataset, diff), whatever the sum is computed with now: here, hashes near both ends of the
    # bigint range, a map column (hashed as JSON) and the profile's own pass.
    data = train.withColumn("tags", F.create_map(F.lit("k"), F.col("id"))).withColumn(
        "name", F.lit(None).cast("string")
    )
    hashed = F.xxhash64(*(F.to_json(c) if c == "tags" else F.col(c) for c in data.columns))
    total = data.agg(F.sum(hashed.cast("decimal(38,0)"))).first()[0]
    assert training_data_summary(data, spark)["fingerprint"] == format(int(total) % (1 << 64), "016x")
    # a deploy finds it in the profile's pass over the data: the same value
    card = model_card(fitted, DeployTarget.parse("com.acme:churn:1.0"), spark, CardFacts(code=None, training_data=data))
    assert card.training_data == training_data_summary(data, spark)


def test_vectors_and_maps_can_be_fingerprinted(spark: SparkSession, fitted: PipelineModel, train: DataFrame) -> None:
    with_map = fitted.transform(train).withColumn("tags", F.create_map(F.lit("k"), F.col("id")))
    summary = training_data_summary(with_map, spark)
    assert summary["rows"] == 60 and "map<string,bigint>" in summary["schema"]


def test_source_of_files_and_of_a_path(spark: SparkSession, train: DataFrame, tmp_path: Path) -> None:
    location = tmp_path / "train"
    train.repartition(2).write.parquet(location.as_uri())
    summary = training_data_summary(spark.read.parquet(location.as_uri()), spark)
    assert summary["source"] == f"{location.as_uri()} (2 files)"
    assert summary["rows"] == 60
    by_path = training_data_summary(str(location), spark)
    assert by_path["source"] == str(location)
    assert by_path["fingerprint"] == summary["fingerprint"]


def test_source_of_a_table(spark: SparkSession, train: DataFrame) -> None:
    train.createOrReplaceTempView("churn_training")
    try:
        summary = training_data_summary("churn_training", spark)
    finally:
        spark.catalog.dropTempView("churn_training")
    assert summary["source"] == "churn_training"
    assert summary["fingerprint"] == training_data_summary(train, spark)["fingerprint"]
    assert summary["table_version"] is None  # not a Delta table (and delta-spark is not installed)


def test_missing_training_data_path_is_a_clear_error(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Cannot read the training data"):
        training_data_summary(str(tmp_path / "missing"), spark)
