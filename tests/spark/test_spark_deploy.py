"""Deploy from PySpark, then resolve: the round trip on a real fitted pipeline."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.sql import DataFrame, SparkSession
from sparktools import make_pipeline

from registry.coordinates import Coordinate
from registry.exceptions import InvalidModel, ModelChanged
from registry.modelcard import ModelCard
from registry.repository.local import LocalRepository
from registry.resolve import resolve as resolve_dir
from registry.spark import NOT_DEPLOYED, deploy, resolve

pytestmark = pytest.mark.spark


def _card(repo: LocalRepository, coordinate: Coordinate) -> ModelCard:
    return ModelCard.from_json(repo.read(coordinate.path("json", "model")))


def _params(model: PipelineModel) -> list[dict[str, object]]:
    return [{p.name: s.getOrDefault(p) for p in s.params if s.isDefined(p)} for s in model.stages]


def test_round_trip(fitted: PipelineModel, train: DataFrame, repo: LocalRepository, tmp_path: Path) -> None:
    uids, params = [s.uid for s in fitted.stages], _params(fitted)

    first = deploy(fitted, "com.acme:churn:1.0", repository=repo, metrics={"auc": 0.9}, training_data=train)
    second = fitted.deploy("com.acme:churn:1.0", repository=repo, description="again", labels=["candidate"])
    assert (str(first), str(second)) == ("com.acme:churn:1.0.0", "com.acme:churn:1.0.1")

    for spec, expected in (("com.acme:churn:1.0.0", first), ("com.acme:churn:latest.release", second)):
        loaded = resolve(spec, repository=repo, cache_dir=tmp_path / "cache")
        assert [s.uid for s in loaded.stages] == uids
        assert {row[0] for row in loaded.transform(train).select("pipeline").distinct().collect()} == {str(expected)}
        assert (
            loaded.transform(train).select("prediction").collect()
            == fitted.transform(train).select("prediction").collect()
        )

    # the caller's model is untouched: same stages, same params, still not deployed
    assert [s.uid for s in fitted.stages] == uids and _params(fitted) == params
    assert fitted.transform(train).select("pipeline").first()[0] == NOT_DEPLOYED


def test_card(fitted: PipelineModel, train: DataFrame, repo: LocalRepository, spark: SparkSession) -> None:
    coordinate = deploy(
        fitted, "com.acme:churn:2.1", repository=repo, metrics={"auc": 0.91}, training_data=train, code=None
    )
    card = _card(repo, coordinate)
    assert card.coordinate == str(coordinate)
    assert card.tools["spark"] == spark.version
    assert card.metrics == {"auc": 0.91}
    assert card.code is None
    lr = card.model["stages"][1]
    assert lr["params"]["maxIter"] == 5 and lr["params"]["regParam"] == 0.01
    assert card.model["stages"][0]["params"]["inputCols"] == ["x", "y"]
    assert card.input_schema == [
        {"name": "id", "type": "bigint", "nullable": False},
        {"name": "x", "type": "double", "nullable": False},
        {"name": "y", "type": "double", "nullable": False},
        {"name": "label", "type": "double", "nullable": False},
    ]
    assert card.output_columns == ["features", "prediction", "probability", "rawPrediction", "pipeline"]
    assert card.training_data is not None and card.training_data["rows"] == 60
    # the jar holds the same card, and the watermark stamped into the saved model
    resolved = resolve_dir(str(coordinate), repository=repo)
    with zipfile.ZipFile(resolved.jar) as jar:
        assert json.loads(jar.read("META-INF/registry/model.json"))["coordinate"] == str(coordinate)
    [part] = resolved.path.glob("stages/*_SQLTransformer_*/metadata/part-*")
    assert str(coordinate) in json.loads(part.read_text())["paramMap"]["statement"]


def test_jvm_loads_the_model_without_python(
    fitted: PipelineModel, train: DataFrame, repo: LocalRepository, spark: SparkSession
) -> None:
    coordinate = deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    resolved = resolve_dir(str(coordinate), repository=repo)
    jvm_model = spark._jvm.org.apache.spark.ml.PipelineModel.load(resolved.path.as_uri())
    classes = [stage.getClass().getName() for stage in jvm_model.stages()]
    assert classes == [
        "org.apache.spark.ml.feature.VectorAssembler",
        "org.apache.spark.ml.classification.LogisticRegressionModel",
        "org.apache.spark.ml.feature.SQLTransformer",
    ]
    scored = DataFrame(jvm_model.transform(train._jdf), spark)
    assert {row[0] for row in scored.select("pipeline").distinct().collect()} == {str(coordinate)}


def test_cluster_path_saves_through_model_dir(
    fitted: PipelineModel, repo: LocalRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging, scratch = tmp_path / "shared", tmp_path / "scratch"
    staging.mkdir()
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    coordinate = deploy(fitted, "com.acme:churn:1.0", repository=repo, model_dir=staging.as_uri(), code=None)
    assert list(staging.iterdir()) == []  # the staged copy is removed
    assert list(scratch.iterdir()) == []  # and so is the local copy
    assert repo.exists(coordinate.path("jar"))
    assert resolve_dir(str(coordinate), repository=repo).card is not None


def test_only_pipeline_models_are_deployed(fitted: PipelineModel, repo: LocalRepository) -> None:
    with pytest.raises(InvalidModel, match=r"PipelineModel\(\[model\]\)"):
        deploy(fitted.stages[1], "com.acme:churn:1.0", repository=repo)  # type: ignore[arg-type]
    with pytest.raises(InvalidModel):
        deploy(LogisticRegression(), "com.acme:churn:1.0", repository=repo)  # type: ignore[arg-type]
    assert not repo.root.exists()


def test_builds_of_a_series_share_the_configuration(
    fitted: PipelineModel, repo: LocalRepository, tmp_path: Path
) -> None:
    first = deploy(fitted, "com.acme:churn:3.0", repository=repo, code=None)
    # a resolved model carries its coordinate in the watermark; deployed again, that is no configuration change
    resolved = resolve(str(first), repository=repo, cache_dir=tmp_path / "cache")
    assert str(resolved.deploy("com.acme:churn:3.0", repository=repo, code=None)) == "com.acme:churn:3.0.1"

    lr = fitted.stages[1]
    changed = fitted.copy({lr.regParam: 0.5})
    with pytest.raises(ModelChanged, match=r"regParam.*com\.acme:churn:3\.1"):
        deploy(changed, "com.acme:churn:3.0", repository=repo, code=None)
    assert str(deploy(changed, "com.acme:churn:3.0", repository=repo, code=None, allow_change=True)) == (
        "com.acme:churn:3.0.2"
    )
    assert fitted.stages[1].getRegParam() == 0.01


def test_a_refit_with_another_max_iter_is_a_new_minor_and_new_features_a_new_major(
    fitted: PipelineModel, train: DataFrame, repo: LocalRepository
) -> None:
    from pyspark.ml.feature import VectorAssembler

    from registry.spark import VersionedPipeline

    deploy(fitted, "com.acme:churn:1.4", repository=repo, code=None)
    retrained = make_pipeline().fit(train)  # same configuration, fresh uids: a build of the same series
    assert str(deploy(retrained, "com.acme:churn:1.4", repository=repo, code=None)) == "com.acme:churn:1.4.1"
    longer = make_pipeline()
    longer.getStages()[1].setMaxIter(20)
    with pytest.raises(ModelChanged) as err:
        deploy(longer.fit(train), "com.acme:churn:1.4", repository=repo, code=None)
    assert "maxIter of stage #1 LogisticRegressionModel: 5 -> 20" in str(err.value)
    assert "com.acme:churn:1.5" in str(err.value)
    fewer_features = VersionedPipeline(
        stages=[VectorAssembler(inputCols=["x"], outputCol="features"), LogisticRegression(maxIter=5, regParam=0.01)]
    )
    with pytest.raises(
        ModelChanged, match=r"input features changed from \['x', 'y'.*deploy it as com\.acme:churn:2\.0"
    ):
        deploy(fewer_features.fit(train), "com.acme:churn:1.4", repository=repo, code=None, training_data=train)
