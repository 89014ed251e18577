"""The runtime contract: the card records Spark, Scala, Java and Python; resolve compares Spark with the session."""

from __future__ import annotations

import dataclasses
import platform
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession

from registry.cli import cli
from registry.coordinates import DeployTarget
from registry.deploy import deploy as deploy_dir
from registry.repository.local import LocalRepository
from registry.resolve import resolve as resolve_dir
from registry.spark import deploy, resolve
from registry.spark.deploy import CardFacts, model_card
from registry.spark.runtime import SparkMismatch, SparkVersionWarning, major_minor
from registry.spark.watermark import stamp_watermark

pytestmark = pytest.mark.spark


def _deploy_saved_by(
    spark_version: str, fitted: PipelineModel, spark: SparkSession, repo: LocalRepository, tmp_path: Path
) -> str:
    """Deploy ``fitted`` with a card that says another Spark saved it (the rest of the card is the real one)."""
    target = DeployTarget.parse("com.acme:churn:1.0")
    card = model_card(fitted, target, spark, CardFacts(code=None))
    card = dataclasses.replace(card, tools={**card.tools, "spark": spark_version})
    saved = tmp_path / f"saved-by-{spark_version}"
    fitted.write().save(saved.as_uri())
    return str(deploy_dir(saved, target, repository=repo, card=card, prepare=stamp_watermark, allow_change=True))


def _major_minor(spark: SparkSession) -> tuple[int, int]:
    found = major_minor(spark.version)
    assert found is not None
    return found


def test_the_card_records_the_runtime(fitted: PipelineModel, spark: SparkSession, repo: LocalRepository) -> None:
    coordinate = deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    card = resolve_dir(str(coordinate), repository=repo).card
    assert card is not None
    assert card.tools["spark"] == spark.version
    assert str(card.tools["scala"]).startswith("2.")
    assert str(card.tools["java"]).split(".")[0].isdigit()
    assert card.tools["python"] == platform.python_version()


def test_a_model_saved_by_a_newer_spark_is_refused_and_the_override_loads_it(
    fitted: PipelineModel, train: DataFrame, spark: SparkSession, repo: LocalRepository, tmp_path: Path
) -> None:
    major, minor = _major_minor(spark)
    newer = f"{major}.{minor + 1}.0"
    coordinate = _deploy_saved_by(newer, fitted, spark, repo, tmp_path)
    with pytest.raises(SparkMismatch) as refused:
        resolve(coordinate, repository=repo)
    message = str(refused.value)
    assert f"Spark {newer}" in message and f"Spark {spark.version}" in message
    assert "allow_spark_mismatch=True" in message and "--allow-spark-mismatch" in message
    with pytest.warns(SparkVersionWarning, match=r"Loading it anyway"):
        model = resolve(coordinate, repository=repo, allow_spark_mismatch=True)
    assert model.transform(train).select("pipeline").first()[0] == coordinate


def test_an_older_major_loads_with_a_warning_and_an_older_minor_silently(
    fitted: PipelineModel, train: DataFrame, spark: SparkSession, repo: LocalRepository, tmp_path: Path
) -> None:
    major, minor = _major_minor(spark)
    older_major = _deploy_saved_by(f"{major - 1}.5.1", fitted, spark, repo, tmp_path)
    with pytest.warns(SparkVersionWarning, match=r"older major version"):
        model = resolve(older_major, repository=repo)
    assert model.transform(train).select("pipeline").first()[0] == older_major
    if minor > 0:
        older_minor = _deploy_saved_by(f"{major}.{minor - 1}.0", fitted, spark, repo, tmp_path)
        with warnings.catch_warnings():
            warnings.simplefilter("error", SparkVersionWarning)
            resolve(older_minor, repository=repo)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("4.0.1", (4, 0)),
        ("3.5", (3, 5)),
        ("4.0.0-preview2", (4, 0)),
        ("3.5.1-SNAPSHOT", (3, 5)),
        ("3.5.0-databricks", (3, 5)),
        ("unknown", None),
    ],
)
def test_spark_versions_are_read_to_major_minor(version: str, expected: tuple[int, int] | None) -> None:
    assert major_minor(version) == expected


def test_show_prints_the_runtime_contract(
    fitted: PipelineModel, spark: SparkSession, repo: LocalRepository, tmp_path: Path
) -> None:
    deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    arguments = ["show", "com.acme:churn:1.0.0", "--repository", str(tmp_path / "repo")]
    result = CliRunner().invoke(cli, arguments, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    major, minor = _major_minor(spark)
    assert f"Spark {spark.version} (Scala 2." in result.output
    assert f"loads in Spark {major}.{minor} or newer" in result.output
