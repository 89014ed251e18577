"""Training profile and evaluation at deploy, then the monitor on shifted and unshifted scored data (real Spark)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from registry.cli import cli
from registry.coordinates import Coordinate, DeployTarget
from registry.drift import DriftReport
from registry.exceptions import InvalidInput
from registry.modelcard import ModelCard
from registry.profile import Profile
from registry.repository.local import LocalRepository
from registry.spark import VersionedPipeline, deploy, monitor, resolve
from registry.spark.deploy import CardFacts, model_card
from registry.spark.profile import training_profile

pytestmark = pytest.mark.spark

ROWS = 2000


def _data(spark: SparkSession, seed: int, rows: int = ROWS, shift: float = 0.0) -> DataFrame:
    """x, y standard normal (x shifted by ``shift``), plan one of three values, label from x + y."""
    data = spark.range(rows).select(
        (F.randn(seed) + F.lit(shift)).alias("x"),
        F.randn(seed + 1).alias("y"),
        F.element_at(
            F.array(F.lit("basic"), F.lit("basic"), F.lit("pro"), F.lit("team")),
            (F.floor(F.rand(seed + 2) * 4) + 1).cast("int"),
        ).alias("plan"),
    )
    return data.withColumn("label", (F.col("x") - F.col("y") + F.randn(seed + 3) * 0.5 > 0).cast("double"))


@dataclass(frozen=True)
class Deployed:
    repo: LocalRepository
    train: DataFrame
    test: DataFrame
    model: PipelineModel
    first: Coordinate
    second: Coordinate


@pytest.fixture(scope="module")
def deployed(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    repo = LocalRepository(tmp_path_factory.mktemp("monitor") / "repo")
    train, test = _data(spark, 10).cache(), _data(spark, 20, rows=500).cache()
    pipeline = VersionedPipeline(
        stages=[
            StringIndexer(inputCol="plan", outputCol="plan_index"),
            VectorAssembler(inputCols=["x", "y", "plan_index"], outputCol="features"),
            LogisticRegression(maxIter=10),
        ]
    )
    model = pipeline.fit(train)
    first = deploy(
        model,
        "com.acme:churn:1.0",
        repository=repo,
        training_data=train,
        evaluation_data=test,
        metrics={"areaUnderPR": 0.5},
        code=None,
    )
    second = deploy(model, "com.acme:churn:1.0", repository=repo, training_data=train, code=None)
    yield Deployed(repo, train, test, model, first, second)
    train.unpersist()
    test.unpersist()


def _card(deployed: Deployed, coordinate: Coordinate) -> ModelCard:
    return ModelCard.from_json(deployed.repo.read(coordinate.path("json", "model")))


def _scored(deployed: Deployed, coordinate: Coordinate, data: DataFrame, tmp_path: Path) -> DataFrame:
    return resolve(str(coordinate), repository=deployed.repo, cache_dir=tmp_path / "cache").transform(data)


def test_profile_records_what_the_model_reads(deployed: Deployed) -> None:
    card = _card(deployed, deployed.first)
    assert card.profile is not None
    profile = Profile.from_dict(card.profile)
    assert profile.rows == ROWS
    assert [f.name for f in profile.features] == ["plan", "x", "y"]  # the label is not read by the fitted model
    summary = {row["summary"]: row for row in deployed.train.summary("count", "mean", "min", "max").collect()}
    for feature in profile.features:
        assert feature.count == int(summary["count"][feature.name])
        if feature.kind == "numeric":
            assert feature.mean == pytest.approx(float(summary["mean"][feature.name]), rel=1e-12)
            assert feature.min == float(summary["min"][feature.name])
            assert feature.max == float(summary["max"][feature.name])
            assert len(feature.edges) == 9 and len(feature.fractions) == 10
            assert sum(feature.fractions) == pytest.approx(1.0)
            assert all(f == pytest.approx(0.1, abs=0.01) for f in feature.fractions)  # deciles: a tenth each
    plan = profile.features[0]
    assert plan.kind == "categorical" and plan.type == "string" and plan.distinct == 3
    assert plan.top[0][0] == "basic" and sum(f for _, f in plan.top) == pytest.approx(1.0)
    assert profile.prediction is not None and profile.prediction.kind == "categorical"
    assert {v for v, _ in profile.prediction.top} == {0.0, 1.0}
    assert profile.probability is not None and profile.probability.index == 1
    assert 0.0 <= (profile.probability.min or 0) <= (profile.probability.max or 0) <= 1.0


def test_evaluation_metrics_land_in_the_card(deployed: Deployed) -> None:
    card = _card(deployed, deployed.first)
    assert card.metrics["areaUnderPR"] == 0.5  # explicit metrics win
    assert 0.8 < card.metrics["areaUnderROC"] <= 1.0
    assert card.evaluation_data is not None and card.evaluation_data["rows"] == 500
    assert card.evaluation_data["metrics"]["areaUnderPR"] != 0.5  # what the evaluator said is kept beside
    assert "areaUnderROC" not in _card(deployed, deployed.second).metrics


def test_shifted_feature_is_drifted_and_the_others_stable(
    deployed: Deployed, spark: SparkSession, tmp_path: Path
) -> None:
    scored = _scored(deployed, deployed.first, _data(spark, 30, shift=4.0), tmp_path)
    result = monitor(scored, repository=deployed.repo)
    [version] = result.report.versions
    verdicts = {c.name: c.verdict for c in version.features}
    assert verdicts == {"x": "drifted", "y": "stable", "plan": "stable"}, str(result)
    x = version.column("feature", "x")
    # Shifted by 4 sd, most values lie above the training maximum; how many depends on that maximum (a random
    # draw of the training data, about 3 to 4.5 sd), so the bound is loose, and far from the stable column's.
    y = version.column("feature", "y")
    assert x is not None and x.psi is not None and x.psi > 1 and x.outside_range is not None and x.outside_range > 0.2
    assert y is not None and y.outside_range is not None and y.outside_range < 0.05
    assert result.report.fails("drifted")
    [row] = result.frame.collect()
    assert row["version"] == str(deployed.first) and row["rows"] == ROWS and row["drifted"] == ["x"]

    same = monitor(_scored(deployed, deployed.first, _data(spark, 40), tmp_path), repository=deployed.repo)
    assert same.report.verdict == "stable", str(same)
    assert not same.report.fails("drifting")


def test_two_versions_in_one_frame(deployed: Deployed, spark: SparkSession, tmp_path: Path) -> None:
    a = _scored(deployed, deployed.first, _data(spark, 50, rows=700), tmp_path)
    b = _scored(deployed, deployed.second, _data(spark, 60, rows=300, shift=3.0), tmp_path)
    result = monitor(a.unionByName(b), repository=deployed.repo)
    rows = {row["version"]: row for row in result.frame.collect()}
    assert {v: r["rows"] for v, r in rows.items()} == {str(deployed.first): 700, str(deployed.second): 300}
    assert rows[str(deployed.first)]["drifted"] == [] and rows[str(deployed.second)]["drifted"] == ["x"]
    assert DriftReport.from_json(result.report.to_json()) == result.report


def test_bad_input_says_what_is_missing(deployed: Deployed, spark: SparkSession, tmp_path: Path) -> None:
    data = _data(spark, 70, rows=50)
    with pytest.raises(InvalidInput, match="no watermark column 'pipeline'"):
        monitor(data, repository=deployed.repo)
    scored = _scored(deployed, deployed.first, data, tmp_path)
    with pytest.raises(InvalidInput, match=r"no column 'y', which com\.acme:churn:1\.0\.0 reads"):
        monitor(scored.drop("y"), repository=deployed.repo)
    bare = deploy(deployed.model, "com.acme:churn:1.0", repository=deployed.repo, code=None)
    with pytest.raises(InvalidInput, match=r"1\.0\.2 has no training profile .* training_data") as refused:
        monitor(_scored(deployed, bare, data, tmp_path), repository=deployed.repo)
    # no stale words: no release "before 0.2" (this is 0.1), no "leave its rows out" the command line cannot do
    assert "before 0.2" not in str(refused.value) and "leave its rows out" not in str(refused.value)
    assert str(refused.value).endswith(f"or monitor only the rows whose watermark is not {bare}.")
    with pytest.raises(InvalidInput, match="never deployed"):
        monitor(deployed.model.transform(data), repository=deployed.repo)


def test_cli_fails_only_when_drifted(deployed: Deployed, spark: SparkSession, tmp_path: Path) -> None:
    shifted, calm = tmp_path / "shifted", tmp_path / "calm"
    _scored(deployed, deployed.first, _data(spark, 80, rows=1000, shift=4.0), tmp_path).write.parquet(str(shifted))
    _scored(deployed, deployed.first, _data(spark, 90, rows=1000), tmp_path).write.parquet(str(calm))
    runner = CliRunner()
    repo = str(deployed.repo.root)

    done = runner.invoke(cli, ["monitor", str(shifted), "-r", repo, "--fail-on", "drifted"])
    assert done.exit_code == 1, done.output
    assert "drifted" in done.output and "x" in done.output

    done = runner.invoke(cli, ["monitor", str(calm), "-r", repo, "--fail-on", "drifted", "--json"])
    assert done.exit_code == 0, done.output
    report = DriftReport.from_json(done.stdout)
    assert report.verdict == "stable" and report.versions[0].rows == 1000

    done = runner.invoke(cli, ["monitor", str(shifted), "-r", repo], env={"COLUMNS": "40"})  # no --fail-on
    assert done.exit_code == 0, done.output
    # into a pipe, whatever the width claimed, each row stays on one line (as show, diff and search do)
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert f"{deployed.first}: 1,000 rows, drifted" in lines, done.stdout
    assert lines[lines.index(f"{deployed.first}: 1,000 rows, drifted") + 1].split() == [
        "column", "role", "PSI", "nulls", "trained", "nulls", "now", "outside", "verdict"
    ], done.stdout  # fmt: skip
    assert any(row.split()[:2] == ["x", "feature"] and row.split()[-1] == "drifted" for row in lines), done.stdout
    json.dumps(report.to_dict())


def test_deploy_refuses_data_it_cannot_profile_or_evaluate(deployed: Deployed) -> None:
    with pytest.raises(InvalidInput, match="training data has no column 'y', which the model reads"):
        deploy(deployed.model, "com.acme:churn:1.0", repository=deployed.repo, training_data=deployed.train.drop("y"))
    with pytest.raises(InvalidInput, match="evaluation data has no label column 'label'"):
        deploy(
            deployed.model, "com.acme:churn:1.0", repository=deployed.repo, evaluation_data=deployed.test.drop("label")
        )


def test_quantiles_and_shares_from_a_sample_above_sample_rows(deployed: Deployed) -> None:
    card = _card(deployed, deployed.first)
    full = Profile.from_dict(card.profile)
    sampled = training_profile(deployed.model, card, deployed.train, sample_rows=500)
    assert full.sample_fraction == 1.0 and sampled.sample_fraction == 0.25
    for exact, approximate in zip(full.features, sampled.features, strict=True):
        # counts and moments are of every row; edges and shares of about 500 of them
        assert (approximate.count, approximate.min, approximate.max) == (exact.count, exact.min, exact.max)
        assert approximate.mean == pytest.approx(exact.mean)
        if exact.kind == "numeric":
            assert approximate.edges == pytest.approx(exact.edges, abs=0.25)
            assert sum(approximate.fractions) == pytest.approx(1.0)
            assert all(f == pytest.approx(0.1, abs=0.05) for f in approximate.fractions)


def test_profile_of_many_columns_matches_spark_summary(spark: SparkSession) -> None:
    # 25 numeric columns (more than one aggregation of Spark's default 100 fields holds), one far from zero where
    # a plain sum of squares would lose the variance, one with nulls and NaN, one constant; and a string column.
    columns = [(F.randn(i) * (i + 1)).alias(f"c{i}") for i in range(22)]
    columns += [
        (F.lit(1e9) + F.randn(30)).alias("far"),
        F.when(F.rand(31) < 0.2, F.lit(None))
        .when(F.rand(32) < 0.1, F.lit(float("nan")))
        .otherwise(F.rand(33))
        .alias("holes"),
        F.lit(7.0).alias("constant"),
        F.element_at(F.array(F.lit("a"), F.lit("b"), F.lit("c")), (F.floor(F.rand(34) * 3) + 1).cast("int")).alias(
            "kind"
        ),
    ]
    data = spark.range(3000).select(*columns).cache()
    numeric = [c for c in data.columns if c != "kind"]
    model = Pipeline(
        stages=[
            StringIndexer(inputCol="kind", outputCol="kind_index"),
            VectorAssembler(inputCols=[*numeric, "kind_index"], outputCol="features", handleInvalid="keep"),
        ]
    ).fit(data)
    card = model_card(model, DeployTarget.parse("com.acme:wide:1.0"), spark, CardFacts(code=None, training_data=data))
    profile = training_profile(model, card, data)
    assert [f.name for f in profile.features] == ["kind", *numeric]
    # the profile counts NaN as null: compare with Spark's summary() and with exact arithmetic on that data
    clean = data.select(*(F.when(~F.isnan(c), F.col(c)).alias(c) for c in numeric))
    summary = {row["summary"]: row for row in clean.summary("count", "min", "max").collect()}
    rows = clean.collect()
    for feature in profile.features[1:]:
        values = [row[feature.name] for row in rows if row[feature.name] is not None]
        assert feature.count == int(summary["count"][feature.name]) == len(values), feature.name
        assert feature.nulls == 3000 - feature.count
        assert feature.min == float(summary["min"][feature.name]), feature.name
        assert feature.max == float(summary["max"][feature.name]), feature.name
        # statistics.stdev computes in exact fractions (Spark's own stddev_samp is off by 1.6e-8 on "far")
        assert feature.mean == pytest.approx(statistics.fmean(values), rel=1e-12), feature.name
        assert feature.stddev == pytest.approx(statistics.stdev(values), rel=1e-12, abs=1e-12), feature.name
    kind = profile.features[0]
    assert kind.count == 3000 and kind.distinct == 3 and {v for v, _ in kind.top} == {"a", "b", "c"}
    data.unpersist()


def test_each_version_binned_with_its_own_profile(deployed: Deployed, spark: SparkSession, tmp_path: Path) -> None:
    # A third version trained on data shifted by 3: the rows it scores are shifted the same way, so every version
    # is stable, as long as each row is binned with the edges, values and range of its own version.
    shifted = _data(spark, 15, shift=3.0).cache()
    third = deploy(deployed.model, "com.acme:churn:1.0", repository=deployed.repo, training_data=shifted, code=None)
    a = _scored(deployed, deployed.first, _data(spark, 100, rows=800), tmp_path)
    b = _scored(deployed, third, _data(spark, 110, rows=800, shift=3.0), tmp_path)
    result = monitor(b.unionByName(a), repository=deployed.repo)
    assert {v.version: v.verdict for v in result.report.versions} == {
        str(deployed.first): "stable",
        str(third): "stable",
    }, str(result)
    [trained] = [v for v in result.report.versions if v.version == str(third)]
    x = trained.column("feature", "x")
    assert x is not None and x.outside_range is not None and x.outside_range < 0.05
    shifted.unpersist()
