"""The watermark: a native SQLTransformer, refused clashes, stamping the saved copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import SQLTransformer
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sparktools import make_pipeline

from registry.exceptions import InvalidInput
from registry.repository.local import LocalRepository
from registry.savedmodel import _crc_sidecar
from registry.spark import NOT_DEPLOYED, VersionedPipeline, Watermark, deploy, find_watermark, resolve
from registry.spark.watermark import stamp_watermark, watermark_stage

pytestmark = pytest.mark.spark


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("pipeline", NOT_DEPLOYED),
        ("pipeline", "com.acme:churn:1.0.3"),
        ("model version", "it's a \\ test"),
        ("weird`name", "x'); DROP TABLE t; --"),
    ],
)
def test_statement_round_trips(column: str, value: str) -> None:
    watermark = Watermark(column, value)
    assert Watermark.parse(watermark.statement) == watermark


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM __THIS__",
        "SELECT *, 'x' AS pipeline FROM __THIS__",
        "SELECT * FROM (SELECT *, 'x' AS `a` FROM __THIS__) WHERE `b` IS NOT NULL",
    ],
)
def test_other_statements_are_not_watermarks(statement: str) -> None:
    assert Watermark.parse(statement) is None


@pytest.mark.parametrize(("column", "value"), [("", "v"), ("c", ""), ("__THIS__", "v"), ("c", "a\nb")])
def test_bad_watermarks_are_refused(column: str, value: str) -> None:
    with pytest.raises(InvalidInput):
        Watermark(column, value)


def test_escaped_values_come_back_verbatim(spark: SparkSession, train: DataFrame) -> None:
    watermark = Watermark("model version", "it's a \\ test")
    out = watermark_stage(watermark).transform(train)
    assert out.select(F.col("`model version`")).first()[0] == "it's a \\ test"


def test_fitted_model_is_native_with_watermark_last(fitted: PipelineModel, train: DataFrame) -> None:
    assert type(fitted) is PipelineModel
    last = fitted.stages[-1]
    assert isinstance(last, SQLTransformer)
    assert find_watermark(fitted) == Watermark("pipeline", NOT_DEPLOYED)
    values = {row[0] for row in fitted.transform(train).select("pipeline").distinct().collect()}
    assert values == {NOT_DEPLOYED}


def test_watermark_costs_one_literal_projection(fitted: PipelineModel, train: DataFrame) -> None:
    """The outer WHERE exists only in the analyzed plan; the optimizer folds it away."""
    scored = fitted.transform(train)
    execution = scored._jdf.queryExecution()
    assert "Filter" in execution.analyzed().toString()
    optimized = execution.optimizedPlan().toString()
    assert "Filter" not in optimized
    assert f"{NOT_DEPLOYED} AS pipeline" in optimized


def test_set_watermark_col_after_stages(train: DataFrame) -> None:
    pipeline = VersionedPipeline()
    pipeline.setStages(make_pipeline().getStages())
    pipeline.setWatermarkCol("scored_by")
    assert pipeline.getWatermarkCol() == "scored_by"
    model = pipeline.fit(train)
    assert model.transform(train).select("scored_by").first()[0] == NOT_DEPLOYED


def test_existing_column_is_refused_at_fit(train: DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"already has a column 'Pipeline'.*setWatermarkCol"):
        make_pipeline().fit(train.withColumn("Pipeline", F.lit(1)))


def test_existing_column_fails_the_transform(fitted: PipelineModel, train: DataFrame) -> None:
    with pytest.raises(AnalysisException, match=r"AMBIGUOUS_REFERENCE.*`pipeline`"):
        fitted.transform(train.withColumn("pipeline", F.lit("mine")))


def test_a_released_model_refuses_an_input_with_its_watermark_column_in_one_clear_error(
    fitted: PipelineModel, train: DataFrame, repo: LocalRepository, tmp_path: Path
) -> None:
    coordinate = deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    model = resolve("com.acme:churn:1.0", repository=repo)
    assert isinstance(model, PipelineModel)
    for column, params in (("pipeline", None), ("PIPELINE", {})):  # Spark's names ignore case; params: a copy
        with pytest.raises(InvalidInput) as refused:
            model.transform(train.withColumn(column, F.lit("mine")), params)
        assert str(refused.value) == (
            f"The input already has a column {column!r}, the watermark column of {coordinate} (the model adds it "
            f"to say which version scored each row). Drop or rename it before the transform, e.g. "
            f"df.drop({column!r})."
        )
    assert model.transform(train).select("pipeline").first()[0] == str(coordinate)
    # it saves as a plain, native PipelineModel: the JVM (and a Python without this library) loads it
    model.write().save(str(tmp_path / "saved"))
    [part] = (tmp_path / "saved" / "metadata").glob("part-*")
    metadata = json.loads(part.read_text())
    assert (metadata["class"], metadata["uid"]) == ("org.apache.spark.ml.PipelineModel", model.uid)
    loaded = PipelineModel.load(str(tmp_path / "saved"))
    assert type(loaded) is PipelineModel
    assert loaded.transform(train).select("pipeline").first()[0] == str(coordinate)


def test_saved_estimator_is_a_plain_pipeline(tmp_path: Path, train: DataFrame) -> None:
    make_pipeline("scored_by").write().save(str(tmp_path / "estimator"))
    loaded = Pipeline.load(str(tmp_path / "estimator"))
    assert type(loaded) is Pipeline
    assert loaded.fit(train).transform(train).select("scored_by").first()[0] == NOT_DEPLOYED


def test_copy_keeps_the_watermark_column() -> None:
    assert make_pipeline("scored_by").copy().getWatermarkCol() == "scored_by"


def test_stamp_rewrites_the_saved_copy_only(fitted: PipelineModel, tmp_path: Path, train: DataFrame) -> None:
    saved = tmp_path / "model"
    fitted.write().save(saved.as_uri())
    [part] = saved.glob("stages/*_SQLTransformer_*/metadata/part-*")
    crc = part.with_name(f".{part.name}.crc")
    assert _crc_sidecar(part.read_bytes()) == crc.read_bytes()  # our sidecar is Hadoop's, byte for byte

    assert stamp_watermark(saved, "com.acme:churn:1.2.3") == 1
    assert (
        json.loads(part.read_bytes())["paramMap"]["statement"]
        == Watermark("pipeline", "com.acme:churn:1.2.3").statement
    )
    assert _crc_sidecar(part.read_bytes()) == crc.read_bytes()
    loaded = PipelineModel.load(saved.as_uri())  # Hadoop verifies the sidecar while reading
    assert loaded.transform(train).select("pipeline").first()[0] == "com.acme:churn:1.2.3"
    assert find_watermark(fitted) == Watermark("pipeline", NOT_DEPLOYED)


def test_stamp_finds_nested_watermarks(fitted: PipelineModel, tmp_path: Path) -> None:
    nested = PipelineModel([SQLTransformer(statement="SELECT * FROM __THIS__"), fitted])
    nested.write().save((tmp_path / "nested").as_uri())
    assert stamp_watermark(tmp_path / "nested", "com.acme:churn:1.0.0") == 1
    assert stamp_watermark(tmp_path / "nested", "com.acme:churn:1.0.1") == 1
