"""registry.spark end to end in a Spark Connect session: deploy, resolve, the watermark, side_by_side, threads."""

from __future__ import annotations

import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from registry.coordinates import DeployTarget
from registry.deploy import deploy as deploy_dir
from registry.exceptions import ConfigError, InvalidInput
from registry.repository.local import LocalRepository
from registry.resolve import resolve as resolve_dir
from registry.spark import deploy, resolve, side_by_side
from registry.spark.deploy import CardFacts, model_card
from registry.spark.hadoop import MODEL_DIR_CONF
from registry.spark.runtime import SparkMismatch, major_minor
from registry.spark.session import is_connect
from registry.spark.watermark import stamp_watermark


def _shared(session: SparkSession) -> Path:
    return Path(str(session.conf.get(MODEL_DIR_CONF)).removeprefix("file://"))


def test_a_connect_session_has_no_jvm_here(connect: SparkSession) -> None:
    assert is_connect(connect)
    # What made deploy crash before: the path below must never need it.
    with pytest.raises(Exception, match="sparkContext"):
        _ = connect.sparkContext


def test_deploy_records_params_card_and_training_fingerprint(
    connect: SparkSession, connect_fitted: PipelineModel, connect_train: DataFrame, local_repo: LocalRepository
) -> None:
    coordinate = deploy(
        connect_fitted,
        "com.acme:churn:1.0",
        repository=local_repo,
        metrics={"areaUnderROC": 0.91},
        training_data=connect_train,
        code=None,
    )
    assert str(coordinate) == "com.acme:churn:1.0.0"
    card = resolve_dir("com.acme:churn:1.0.0", repository=local_repo).card
    assert card is not None
    assert card.metrics == {"areaUnderROC": 0.91}
    classes = [stage["class"] for stage in card.model["stages"]]
    assert classes == [
        "org.apache.spark.ml.feature.VectorAssembler",
        "org.apache.spark.ml.classification.LogisticRegressionModel",
        "org.apache.spark.ml.feature.SQLTransformer",
    ]
    assert card.model["stages"][1]["params"]["maxIter"] == 5
    assert card.model["stages"][1]["params"]["regParam"] == 0.01
    assert card.output_columns == ["features", "prediction", "probability", "rawPrediction", "pipeline"]
    assert card.training_data is not None
    assert card.training_data["rows"] == 60
    assert card.training_data["schema"] == "struct<id:bigint,x:double,y:double,label:double>"
    assert len(card.training_data["fingerprint"]) == 16
    # The runtime contract, asked of the server in SQL.
    assert card.tools["spark"] == connect.version
    assert str(card.tools["scala"]).startswith("2.")
    assert card.tools["java"]
    # The server's staged copy is gone from the shared directory.
    assert not list(_shared(connect).glob("registry-deploy-*"))
    # The same data gives the same fingerprint in a second deploy.
    again = deploy(connect_fitted, "com.acme:churn:1.0", repository=local_repo, training_data=connect_train, code=None)
    second = resolve_dir(str(again), repository=local_repo).card
    assert second is not None and second.training_data is not None
    assert second.training_data["fingerprint"] == card.training_data["fingerprint"]


def test_training_data_given_as_a_path_is_read_by_the_server(
    connect: SparkSession, connect_fitted: PipelineModel, connect_train: DataFrame, local_repo: LocalRepository
) -> None:
    path = f"{connect.conf.get(MODEL_DIR_CONF)}/train-parquet"
    connect_train.write.parquet(path)
    deploy(connect_fitted, "com.acme:churn:1.0", repository=local_repo, training_data=path, code=None)
    card = resolve_dir("com.acme:churn:1.0.0", repository=local_repo).card
    assert card is not None and card.training_data is not None
    assert card.training_data["rows"] == 60
    assert card.training_data["source"] == path
    assert card.training_data["table_version"] is None  # no _delta_log there


def test_resolve_with_every_selector_and_the_watermark_on_every_row(
    connect_fitted: PipelineModel, connect_train: DataFrame, local_repo: LocalRepository
) -> None:
    for series in ("1.0", "1.0", "1.1"):
        deploy(connect_fitted, f"com.acme:churn:{series}", repository=local_repo, code=None)
    expected = {
        "1.0.0": "com.acme:churn:1.0.0",  # exact
        "1.0": "com.acme:churn:1.0.1",  # newest of a series
        "latest.release": "com.acme:churn:1.1.0",
        "[1.0,1.1)": "com.acme:churn:1.0.1",  # a range
        "1.+": "com.acme:churn:1.1.0",  # Ivy's sub-revision
    }
    for selector, coordinate in expected.items():
        scored = resolve(f"com.acme:churn:{selector}", repository=local_repo).transform(connect_train)
        counts = {row["pipeline"]: row["count"] for row in scored.groupBy("pipeline").count().collect()}
        assert counts == {coordinate: 60}, selector


def test_a_released_model_refuses_its_watermark_column_and_saves_as_a_plain_pipeline_model(
    connect_fitted: PipelineModel, connect_train: DataFrame, local_repo: LocalRepository, tmp_path: Path
) -> None:
    coordinate = deploy(connect_fitted, "com.acme:churn:1.0", repository=local_repo, code=None)
    model = resolve("com.acme:churn:1.0", repository=local_repo)
    with pytest.raises(InvalidInput, match=rf"a column 'pipeline', the watermark column of {coordinate} "):
        model.transform(connect_train.withColumn("pipeline", F.lit("mine")))
    saved = _shared(connect_train.sparkSession) / "released-copy"  # the server writes where both processes read
    model.write().save(str(saved))
    [part] = (saved / "metadata").glob("part-*")
    # what pyspark writes for any PipelineModel over Connect (Python's format), never this library's class name
    assert json.loads(part.read_text())["class"] == "pyspark.ml.pipeline.PipelineModel"
    again = PipelineModel.load(str(saved)).transform(connect_train)
    assert again.select("pipeline").first()[0] == str(coordinate)


def test_side_by_side(connect_fitted: PipelineModel, connect_train: DataFrame, local_repo: LocalRepository) -> None:
    deploy(connect_fitted, "com.acme:churn:1.0", repository=local_repo, code=None)
    deploy(connect_fitted, "com.acme:churn:1.0", repository=local_repo, code=None)
    both = side_by_side(connect_train, "com.acme:churn:1.0.0", "com.acme:churn:latest.release", repository=local_repo)
    assert both.columns[:4] == connect_train.columns
    assert {"champion_prediction", "challenger_prediction"} <= set(both.columns)
    rows = both.select("champion_pipeline", "challenger_pipeline").distinct().collect()
    assert [tuple(row) for row in rows] == [("com.acme:churn:1.0.0", "com.acme:churn:1.0.1")]
    assert both.count() == 60


def test_a_model_saved_by_a_newer_spark_is_refused(
    connect: SparkSession, connect_fitted: PipelineModel, local_repo: LocalRepository
) -> None:
    target = DeployTarget.parse("com.acme:churn:1.0")
    card = model_card(connect_fitted, target, connect, CardFacts(code=None))
    major, minor = major_minor(connect.version) or (0, 0)
    card = dataclasses.replace(card, tools={**card.tools, "spark": f"{major}.{minor + 1}.0"})
    saved = f"{connect.conf.get(MODEL_DIR_CONF)}/saved-by-newer"
    connect_fitted.write().save(saved)  # by the server, into the shared directory
    deploy_dir(Path(saved.removeprefix("file://")), target, repository=local_repo, card=card, prepare=stamp_watermark)
    with pytest.raises(SparkMismatch, match=rf"Spark {major}\.{minor + 1}\.0, newer than this session's Spark"):
        resolve("com.acme:churn:1.0.0", repository=local_repo)


def test_without_a_model_dir_one_clear_error(
    connect: SparkSession, connect_fitted: PipelineModel, local_repo: LocalRepository
) -> None:
    shared = connect.conf.get(MODEL_DIR_CONF)
    deploy(connect_fitted, "com.acme:churn:1.0", repository=local_repo, code=None)
    connect.conf.unset(MODEL_DIR_CONF)
    try:
        with pytest.raises(ConfigError) as deploying:
            deploy(connect_fitted, "com.acme:churn:1.0", repository=local_repo, code=None)
        with pytest.raises(ConfigError) as resolving:
            resolve("com.acme:churn:1.0.0", repository=local_repo)
        for error in (deploying.value, resolving.value):
            message = str(error)
            assert "Spark Connect" in message and MODEL_DIR_CONF in message and "model_dir=" in message
            assert "Py4J" not in message and "grpc" not in message.lower()
        # A directory only the server could know (another scheme) is refused the same clear way.
        with pytest.raises(ConfigError, match=r"not a directory on this machine"):
            resolve("com.acme:churn:1.0.0", repository=local_repo, model_dir="hdfs:///models")
    finally:
        connect.conf.set(MODEL_DIR_CONF, str(shared))
    # Nothing was deployed by the refused call.
    assert resolve_dir("com.acme:churn:1.0", repository=local_repo).coordinate.version.build == 0


def test_deploy_and_resolve_from_another_thread(
    connect: SparkSession, connect_fitted: PipelineModel, connect_train: DataFrame, local_repo: LocalRepository
) -> None:
    def work() -> tuple[str, str | None]:
        assert SparkSession.getActiveSession() is None  # per thread: this one never activated a session
        coordinate = deploy(connect_fitted, "com.acme:churn:1.0", repository=local_repo, code=None)
        model = resolve(str(coordinate), repository=local_repo)
        return str(coordinate), model.transform(connect_train).select("pipeline").first()[0]

    with ThreadPoolExecutor(1) as pool:
        coordinate, watermark = pool.submit(work).result(timeout=300)
    assert threading.current_thread() is threading.main_thread()
    assert coordinate == watermark == "com.acme:churn:1.0.0"
