"""A Spark model deployed from a session to an s3:// repository (moto's S3 server, tests/s3tools.py) and used from
there: resolved into the session with selectors, scored and monitored by the CLI, and served over HTTP. One
deployed repository for the module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cardhelpers import run_cli
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from s3tools import AWS_ENV, S3Proxy, moto_server, new_bucket
from sparktools import NO_INTERNET, QUICK_JVM, serve_process

from registry.coordinates import Coordinate
from registry.drift import DriftReport
from registry.spark import deploy, resolve

pytestmark = pytest.mark.spark


@dataclass
class Deployed:
    url: str
    first: Coordinate
    second: Coordinate
    env: dict[str, str]  # what boto3 needs to reach the server (a child process's environment adds it)


@pytest.fixture(scope="module")
def deployed(fitted: PipelineModel, train: DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    home = tmp_path_factory.mktemp("s3-home")
    with moto_server() as moto:
        proxy = S3Proxy(moto)
        env = {
            **AWS_ENV,
            "AWS_ENDPOINT_URL": proxy.url,
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        }
        with pytest.MonkeyPatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("AWS_")]:
                patch.delenv(name)
            for name, value in env.items():
                patch.setenv(name, value)
            url = f"s3://{new_bucket(moto)}/maven"
            first = deploy(fitted, "com.acme:churn:1.0", repository=url, training_data=train, code=None)
            second = deploy(fitted, "com.acme:churn:1.0", repository=url, training_data=train, code=None)
            try:
                yield Deployed(url, first, second, env)
            finally:
                proxy.close()


def test_resolve_from_s3_into_the_session(deployed: Deployed, train: DataFrame) -> None:
    assert (str(deployed.first), str(deployed.second)) == ("com.acme:churn:1.0.0", "com.acme:churn:1.0.1")
    for selector, expected in [
        ("latest.release", deployed.second),
        ("1.0.+", deployed.second),
        ("1.0.0", deployed.first),
    ]:
        model = resolve(f"com.acme:churn:{selector}", repository=deployed.url)
        assert model.transform(train).select("pipeline").first()[0] == str(expected), selector


def test_score_and_monitor_on_s3(deployed: Deployed, spark: SparkSession, train: DataFrame, tmp_path: Path) -> None:
    data, out = str(tmp_path / "in.parquet"), str(tmp_path / "out")
    train.drop("label").write.parquet(data)
    code, stdout, stderr = run_cli(
        "score", "com.acme:churn:latest.release", "--input", data, "--output", out, "-r", deployed.url
    )
    assert code == 0, stderr
    assert stdout.splitlines()[-1] == f"{deployed.second} 60"
    assert {r.pipeline for r in spark.read.parquet(out).select("pipeline").collect()} == {str(deployed.second)}
    code, stdout, stderr = run_cli("monitor", out, "-r", deployed.url, "--fail-on", "drifted", "--json")
    assert code == 0, stderr
    report = DriftReport.from_json(stdout)  # the profile of the training data, read from the bucket
    assert report.verdict == "stable" and [(v.version, v.rows) for v in report.versions] == [(str(deployed.second), 60)]


def test_serve_from_s3(deployed: Deployed, tmp_path: Path, train: DataFrame, spark: SparkSession) -> None:
    args = [
        "com.acme:churn:1.0", "-r", deployed.url,
        "--conf", "spark.master=local[1]", "--conf", "spark.driver.memory=512m",
        "--conf", f"spark.driver.extraJavaOptions={NO_INTERNET} {QUICK_JVM}",
    ]  # fmt: skip
    with serve_process(tmp_path, args, startup=240, env=deployed.env) as (url, _, _):
        records = [{"x": r.x, "y": r.y} for r in train.select("x", "y").limit(10).collect()]
        answer = httpx.post(f"{url}/predict", json=records, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"] == str(deployed.second)
        model = resolve(str(deployed.second), repository=deployed.url, spark=spark)
        frame = spark.createDataFrame([(r["x"], r["y"]) for r in records], "x double, y double").coalesce(1)
        assert body["predictions"] == [r.prediction for r in model.transform(frame).select("prediction").collect()]
