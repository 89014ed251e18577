"""The portable twin at deploy: converted, proven equal to Spark, attached to the release (issue 21)."""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.classification import (
    DecisionTreeClassifier,
    GBTClassifier,
    LogisticRegression,
    RandomForestClassifier,
)
from pyspark.ml.feature import OneHotEncoder, SQLTransformer, StandardScaler, StringIndexer, VectorAssembler
from pyspark.ml.regression import LinearRegression, RandomForestRegressor
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from registry.exceptions import NotPortable
from registry.modelcard import ModelCard
from registry.portable.run import Twin
from registry.repository.local import LocalRepository
from registry.spark import VersionedPipeline, deploy
from registry.spark.deploy import NotPortableWarning

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def data(spark: SparkSession) -> DataFrame:
    """1,200 rows: x, y in [0, 1), a category c of 3 (as strings), label = x + y > 1 (flipped for c = '2')."""
    frame = spark.range(1200).select(
        "id", F.rand(1).alias("x"), F.rand(2).alias("y"), (F.col("id") % 3).cast("string").alias("c")
    )
    label = (F.col("x") + F.col("y") > 1) != (F.col("c") == "2")
    return frame.withColumn("label", label.cast("double")).cache()


def _assembler() -> VectorAssembler:
    return VectorAssembler(inputCols=["x", "y"], outputCol="features")


PIPELINES: dict[str, Callable[[], list[object]]] = {
    "logistic": lambda: [_assembler(), LogisticRegression(maxIter=5)],
    "linear": lambda: [_assembler(), LinearRegression(maxIter=5)],
    "tree": lambda: [_assembler(), DecisionTreeClassifier(maxDepth=3)],
    "forest": lambda: [_assembler(), RandomForestClassifier(numTrees=3, maxDepth=3, seed=1)],
    "forest regressor": lambda: [_assembler(), RandomForestRegressor(numTrees=3, maxDepth=3, seed=1)],
    "boosted": lambda: [_assembler(), GBTClassifier(maxIter=3, maxDepth=2, seed=1)],
    "encoded": lambda: [
        StringIndexer(inputCol="c", outputCol="ci"),  # Spark's defaults: handleInvalid='error'
        OneHotEncoder(inputCol="ci", outputCol="co"),  # Spark's defaults: dropLast=True, handleInvalid='error'
        VectorAssembler(inputCols=["x", "y", "co"], outputCol="raw"),
        StandardScaler(inputCol="raw", outputCol="features"),
        LogisticRegression(maxIter=10),
    ],
}


@pytest.mark.parametrize("kind", list(PIPELINES))
def test_twin_attached_and_equal_to_spark(kind: str, data: DataFrame, repo: LocalRepository, tmp_path: Path) -> None:
    model = VersionedPipeline(stages=PIPELINES[kind]()).fit(data)
    places = [Path.cwd(), Path(tempfile.gettempdir())]
    before = [set(p.iterdir()) for p in places]
    coordinate = deploy(model, "com.acme:churn:1.2", repository=repo, training_data=data, code=None, portable="onnx")
    # the tree converters save every tree through Spark and leave it: gone with the conversion's scratch directory
    assert [{p for p in place.iterdir() if "Model_" in p.name} - seen for place, seen in zip(places, before)] == [
        set(),
        set(),
    ]

    twin_path = coordinate.path("onnx", "onnx")
    assert twin_path.endswith("/churn-1.2.0-onnx.onnx")
    content = repo.read(twin_path)
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        assert repo.read(f"{twin_path}.{algorithm}").decode().split()[0] == hashlib.new(algorithm, content).hexdigest()

    card = ModelCard.from_json(repo.read(coordinate.path("json", "model")))
    section = card.portable
    assert section is not None and section["format"] == "onnx"
    assert section["converter"].startswith("onnxmltools ") and section["runtime"].startswith("onnxruntime ")
    assert section["opsets"]["ai.onnx.ml"] >= 1
    expected_inputs = ["c", "x", "y"] if kind == "encoded" else ["x", "y"]
    assert sorted(c["name"] for c in section["inputs"]) == expected_inputs
    parity = section["parity"]
    assert parity["rows"] == 1200 and parity["max_difference"] <= 1e-5 and parity["label_agreement"] == 1.0

    # the released file itself, scored without Spark, equals Spark's transform of the same rows
    rows = [r.asDict() for r in data.select("x", "y", "c").limit(50).collect()]
    predicted = Twin(content, coordinate=str(coordinate)).predict(rows)
    spark_rows = model.transform(data.limit(50)).collect()
    for mine, theirs in zip(predicted, spark_rows, strict=True):
        assert mine["pipeline"] == str(coordinate)
        assert mine["prediction"] == pytest.approx(theirs["prediction"], rel=1e-5, abs=1e-6)
        if "probability" in mine:
            assert mine["probability"] == pytest.approx(list(theirs["probability"]), abs=1e-5)


@pytest.fixture(scope="module")
def logistic(data: DataFrame) -> PipelineModel:
    """The logistic pipeline, fitted once for the tests that deploy it (a deploy changes nothing in the model)."""
    return VersionedPipeline(stages=PIPELINES["logistic"]()).fit(data)


@pytest.fixture(scope="module")
def derived(data: DataFrame) -> PipelineModel:
    """A pipeline whose first stage (a SQLTransformer) has no ONNX converter."""
    return VersionedPipeline(
        stages=[
            SQLTransformer(statement="SELECT *, x * 2 AS x2 FROM __THIS__"),
            VectorAssembler(inputCols=["x2", "y"], outputCol="features"),
            LogisticRegression(maxIter=5),
        ]
    ).fit(data)


def test_unsupported_stage_under_onnx_releases_nothing(
    derived: PipelineModel, data: DataFrame, repo: LocalRepository
) -> None:
    model = derived
    with pytest.raises(NotPortable, match=r"stage #0 SQLTransformer has no ONNX converter"):
        deploy(model, "com.acme:churn:1.0", repository=repo, parity_data=data, code=None, portable="onnx")
    assert not (repo.root / "com/acme/churn").exists()  # not even a claimed build


def test_unsupported_stage_under_auto_releases_without_twin(
    derived: PipelineModel, data: DataFrame, repo: LocalRepository
) -> None:
    model = derived
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coordinate = deploy(model, "com.acme:churn:1.0", repository=repo, parity_data=data, code=None, portable="auto")
    ours = [w for w in caught if issubclass(w.category, NotPortableWarning)]
    assert len(ours) == 1 and "stage #0 SQLTransformer" in str(ours[0].message)
    assert repo.read(coordinate.path("jar"))
    assert not repo.exists(coordinate.path("onnx", "onnx"))
    assert ModelCard.from_json(repo.read(coordinate.path("json", "model"))).portable is None


def test_too_few_rows_for_parity_is_refused(logistic: PipelineModel, data: DataFrame, repo: LocalRepository) -> None:
    model = logistic
    with pytest.raises(NotPortable, match=r"at least 1000 rows.*has 999"):
        deploy(model, "com.acme:churn:1.0", repository=repo, parity_data=data.limit(999), code=None, portable="onnx")


def test_without_portable_nothing_is_converted(logistic: PipelineModel, data: DataFrame, repo: LocalRepository) -> None:
    model = logistic
    coordinate = deploy(model, "com.acme:churn:1.0", repository=repo, code=None)
    assert not repo.exists(coordinate.path("onnx", "onnx"))


def test_pipeline_model_method_takes_portable(logistic: PipelineModel, data: DataFrame, repo: LocalRepository) -> None:
    coordinate = logistic.deploy("com.acme:churn:1.0", repository=repo, parity_data=data, code=None, portable="onnx")  # type: ignore[attr-defined]
    assert repo.exists(coordinate.path("onnx", "onnx"))


def test_a_twin_that_disagrees_is_never_attached(
    logistic: PipelineModel, data: DataFrame, repo: LocalRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("registry.spark.onnx.TOLERANCE", 1e-12)  # float32 inference cannot be this close
    model = logistic
    with pytest.raises(NotPortable, match=r"twin disagrees with Spark on 1200 rows: largest difference"):
        deploy(model, "com.acme:churn:1.0", repository=repo, parity_data=data, code=None, portable="onnx")
    assert not (repo.root / "com/acme/churn").exists()
