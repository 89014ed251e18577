"""The columns a pipeline reads, found once (issue 21): a column a stage derives is not an input, for the card,
the training profile and the server's signature alike."""

from __future__ import annotations

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import SQLTransformer, StringIndexer, VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from registry.modelcard import ModelCard
from registry.payload import Signature
from registry.profile import Profile
from registry.repository.local import LocalRepository
from registry.spark import VersionedPipeline, deploy

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def data(spark: SparkSession) -> DataFrame:
    """60 rows: x, y, an unused z, a category c of 3 (as strings), and a label."""
    frame = spark.range(60).select(
        "id",
        F.rand(1).alias("x"),
        F.rand(2).alias("y"),
        F.rand(3).alias("z"),
        (F.col("id") % 3).cast("string").alias("c"),
    )
    return frame.withColumn("label", (F.col("x") + F.col("y") > 1).cast("double")).cache()


def _released(repo: LocalRepository, stages: list[object], data: DataFrame) -> ModelCard:
    model = VersionedPipeline(stages=stages).fit(data)
    coordinate = deploy(model, "com.acme:reads:1.0", repository=repo, training_data=data, code=None)
    return ModelCard.from_json(repo.read(coordinate.path("json", "model")))


def _profiled(card: ModelCard) -> list[str]:
    profile = Profile.from_dict(card.profile)
    return [c.name for c in profile.features]


def test_a_column_derived_by_sql_is_not_an_input(repo: LocalRepository, data: DataFrame) -> None:
    card = _released(
        repo,
        [
            SQLTransformer(statement="SELECT *, x * y AS xy, x - y AS d FROM __THIS__"),
            VectorAssembler(inputCols=["x", "y", "xy", "d"], outputCol="features"),
            LogisticRegression(maxIter=5),
        ],
        data,
    )
    assert (card.stages[0].input_cols, card.stages[0].output_cols) == (("x", "y"), ("xy", "d"))
    assert card.features == ("x", "y")
    assert _profiled(card) == ["x", "y"]
    signature = Signature.from_card(card.model, card.input_schema)
    assert [(c.name, c.type) for c in signature.inputs] == [("x", "double"), ("y", "double")]


def test_a_derived_column_in_a_nested_pipeline_before_an_indexer(repo: LocalRepository, data: DataFrame) -> None:
    card = _released(
        repo,
        [
            Pipeline(stages=[SQLTransformer(statement="SELECT *, concat(c, '-k') AS ck FROM __THIS__")]),
            StringIndexer(inputCol="ck", outputCol="cki"),
            VectorAssembler(inputCols=["x", "cki"], outputCol="features"),
            LogisticRegression(maxIter=5),
        ],
        data,
    )
    # the statement reads c, which no param names (Spark cannot analyse it without c); it derives ck
    assert (card.stages[1].input_cols, card.stages[1].output_cols) == (("c",), ("ck",))
    assert card.features == ("c", "x")
    assert _profiled(card) == ["c", "x"]


def test_feature_stages_that_overwrite_nothing(repo: LocalRepository, data: DataFrame) -> None:
    card = _released(
        repo,
        [
            StringIndexer(inputCol="c", outputCol="ci"),
            VectorAssembler(inputCols=["x", "ci"], outputCol="features"),
            LogisticRegression(maxIter=5),
        ],
        data,
    )
    assert card.features == ("c", "x")  # not the label, not the unread y and z, not the derived ci
    assert _profiled(card) == ["c", "x"]
    signature = Signature.from_card(card.model, card.input_schema)
    assert [(c.name, c.type) for c in signature.inputs] == [("c", "string"), ("x", "double")]
