"""``registry score``: a released model scores data read and written by Spark, in process and under spark-submit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cardhelpers import run_cli as run
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from sparktools import finish, spark_submit
from test_events import RUN_EVENT, _client_env, receiver  # noqa: F401 - fixtures: a real receiver on 127.0.0.1

import registry
from registry.coordinates import Coordinate
from registry.events import dataset_name
from registry.repository.local import LocalRepository
from registry.spark import deploy, resolve

pytestmark = pytest.mark.spark


@pytest.fixture
def released(fitted: PipelineModel, train: DataFrame, repo: LocalRepository) -> Coordinate:
    return deploy(fitted, "com.acme:churn:1.0", repository=repo, training_data=train, code=None)


@pytest.fixture
def data(train: DataFrame, tmp_path: Path) -> str:
    location = str(tmp_path / "in.parquet")
    train.drop("label").write.parquet(location)
    return location


def _jobs(spark: SparkSession, group: str) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def test_output_equals_transform_row_for_row(
    spark: SparkSession, released: Coordinate, repo: LocalRepository, data: str, tmp_path: Path
) -> None:
    out = str(tmp_path / "out")
    code, stdout, stderr = run(
        "score", "com.acme:churn:latest.release", "--input", data, "--output", out, "-r", str(repo.root)
    )
    assert code == 0, stderr
    assert stdout.splitlines()[-1] == f"{released} 60"
    assert (Path(out) / "_SUCCESS").is_file()
    written = spark.read.parquet(out)
    expected = resolve(str(released), repository=repo, spark=spark).transform(spark.read.parquet(data))
    assert written.columns == expected.columns
    assert sorted(written.collect()) == sorted(expected.collect())
    assert {r.pipeline for r in written.select("pipeline").collect()} == {str(released)}


def test_existing_output_is_refused_unless_the_mode_says(
    released: Coordinate, repo: LocalRepository, data: str, tmp_path: Path, spark: SparkSession
) -> None:
    out = str(tmp_path / "out.parquet")
    args = ("score", str(released), "--input", data, "--output", out, "-r", str(repo.root))
    assert run(*args)[0] == 0
    code, _, stderr = run(*args)
    assert code == 2
    assert "exists. Choose another --output, or pass --mode overwrite" in stderr and len(stderr.splitlines()) == 1
    assert run(*args, "--mode", "append")[1].splitlines()[-1] == f"{released} 60"
    assert spark.read.parquet(out).count() == 120
    assert run(*args, "--mode", "overwrite")[0] == 0
    assert spark.read.parquet(out).count() == 60


def test_a_missing_column_is_named_before_any_job(
    spark: SparkSession, released: Coordinate, repo: LocalRepository, train: DataFrame, tmp_path: Path
) -> None:
    without_y = str(tmp_path / "no-y")
    train.drop("y").write.parquet(without_y)
    out = tmp_path / "out"
    spark.sparkContext.setJobGroup("read-only", "reading the input's schema")
    spark.read.parquet(without_y).columns
    spark.sparkContext.setJobGroup("score", "registry score")
    try:
        code, _, stderr = run("score", str(released), "--input", without_y, "--output", str(out), "-r", str(repo.root))
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    assert code == 2
    assert f"has no column 'y', which {released} reads (it reads x, y; the input has id, x, label)" in stderr
    assert _jobs(spark, "score") == _jobs(spark, "read-only")  # reading the schema, nothing more
    assert not out.exists()


def test_columns_formats_and_bad_arguments(
    released: Coordinate, repo: LocalRepository, data: str, tmp_path: Path, spark: SparkSession
) -> None:
    base = ("score", str(released), "--input", data, "-r", str(repo.root))
    out = str(tmp_path / "picked.csv")
    code, _, stderr = run(*base, "--output", out, "--columns", "id,prediction")
    assert code == 0, stderr
    written = spark.read.option("header", "true").csv(out)
    assert written.columns == ["id", "prediction", "pipeline"] and written.count() == 60
    code, _, stderr = run(*base, "--output", str(tmp_path / "all.csv"))
    assert code == 2 and "CSV cannot hold the columns features, rawPrediction, probability" in stderr
    code, _, stderr = run(*base, "--output", str(tmp_path / "x"), "--columns", "id,nope")
    assert code == 2 and "No output column 'nope'" in stderr
    code, _, stderr = run(
        "score",
        str(released),
        "--input",
        str(tmp_path / "absent"),
        "--output",
        str(tmp_path / "y"),
        "-r",
        str(repo.root),
    )
    assert code == 2 and f"The input '{tmp_path / 'absent'}' does not exist. Check --input." in stderr
    code, _, _ = run(*base, "--output", str(tmp_path / "j"), "--format", "json")
    assert code == 0 and spark.read.json(str(tmp_path / "j")).count() == 60


def test_spark_submit_runs_the_module_as_the_application(
    released: Coordinate, repo: LocalRepository, data: str, tmp_path: Path
) -> None:
    import registry.cli.submit as application

    out = tmp_path / "submitted"
    root = str(Path(registry.__file__).resolve().parents[1])  # this checkout's registry, in the driver and workers
    process = spark_submit(
        [application.__file__, str(released), "--input", data, "--output", str(out), "-r", str(repo.root)],
        env={"PYTHONPATH": root},
    )
    done = finish(process, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == f"{released} 60"
    assert (out / "_SUCCESS").is_file()


def test_unreadable_or_missing_input_is_one_line_without_the_jvm_trace(
    released: Coordinate, repo: LocalRepository, train: DataFrame, tmp_path: Path
) -> None:
    written_as_csv = tmp_path / "scored-by-someone"  # a folder Spark wrote as CSV: no extension says so
    train.drop("label").write.option("header", "true").csv(str(written_as_csv))
    root = str(Path(registry.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root, "PYSPARK_PYTHON": sys.executable}
    for given, expected in (
        (written_as_csv, f"registry: error: Cannot read the input '{written_as_csv}' as parquet (the default for a "
                         "path without a known extension): "),  # then Spark's own words, which differ by version
        (tmp_path / "nope", f"registry: error: The input '{tmp_path / 'nope'}' does not exist. Check --input."),
    ):  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "registry", "score", str(released), "--input", str(given), "--output",
             str(tmp_path / "out"), "-r", str(repo.root), "--conf", "spark.master=local[1]"],
            capture_output=True, text=True, env=env, cwd=root, timeout=300,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr[-3000:]
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith(expected), done.stderr[-3000:]
        if given == written_as_csv:
            assert last.endswith("Check the path, or pass --input-format (csv, json, orc).")
        assert "\tat " not in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]


def test_a_score_run_is_an_openlineage_run_with_the_model_and_the_data(
    receiver: list[dict[str, Any]],  # noqa: F811 - the fixture imported above
    released: Coordinate,
    repo: LocalRepository,
    data: str,
    tmp_path: Path,
) -> None:
    out = str(tmp_path / "scored")
    code, _, stderr = run("score", str(released), "--input", data, "--output", out, "-r", str(repo.root))
    assert code == 0, stderr
    started, completed = (r["event"] for r in receiver if r["event"]["job"]["name"] == "score com.acme:churn")
    for event in (started, completed):
        jsonschema.validate(event, RUN_EVENT, format_checker=jsonschema.FormatChecker())
    assert (started["eventType"], completed["eventType"]) == ("START", "COMPLETE")
    assert started["run"]["runId"] == completed["run"]["runId"]
    model, scored = completed["inputs"]
    assert repo.display in model["namespace"] and model["name"] == "com.acme:churn"  # as its deploy named it
    assert model["facets"]["version"]["datasetVersion"] == str(released.version)
    assert model["facets"]["datasetType"]["datasetType"] == "MODEL"
    assert model["facets"]["registry"]["coordinate"] == str(released)
    assert (scored["namespace"], scored["name"]) == ("file", data)
    [output] = completed["outputs"]
    assert (output["namespace"], output["name"]) == ("file", out)
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 60
    # A run that fails after it started (CSV cannot hold vectors) ends with FAIL and the error, under its run id.
    receiver.clear()
    code, _, _ = run(
        "score", str(released), "--input", data, "--output", f"file://{tmp_path}/all.csv", "-r", str(repo.root)
    )
    assert code == 2
    started, failed = (r["event"] for r in receiver)
    assert (started["eventType"], failed["eventType"]) == ("START", "FAIL")
    assert started["run"]["runId"] == failed["run"]["runId"]
    assert "CSV cannot hold the columns" in failed["run"]["facets"]["errorMessage"]["message"]
    assert (failed["outputs"][0]["namespace"], failed["outputs"][0]["name"]) == ("file", f"{tmp_path}/all.csv")


@pytest.mark.parametrize(
    ("location", "named"),
    [
        ("s3a://bucket/data/in.parquet", ("s3://bucket", "data/in.parquet")),
        ("hdfs://nn:8020/data/in", ("hdfs://nn:8020", "/data/in")),
        ("gs://b/k", ("gs://b", "k")),
        ("abfss://c@acct.dfs.core.windows.net/p", ("abfss://c@acct.dfs.core.windows.net", "/p")),
        ("https://user:secret@host/x.csv", ("https://host", "/x.csv")),
        ("file:///data/x", ("file", "/data/x")),
    ],
)
def test_locations_are_named_as_openlineage_names_files(location: str, named: tuple[str, str]) -> None:
    assert dataset_name(location) == named
