"""``registry serve`` on a release's twin: a real server process, no JVM, answers equal to Spark's transform.

One server (``--engine auto``, ``--reload 1``) serves ``com.acme:churn:1.0`` for the module; the tests that deploy
new builds run last.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from realtools import free_port
from sparktools import Server, serving

import registry
from registry.repository.local import LocalRepository
from registry.spark import VersionedPipeline, deploy

pytestmark = pytest.mark.spark

STARTUP = 60.0  # seconds: no JVM to start


@pytest.fixture(scope="module")
def data(spark: SparkSession) -> DataFrame:
    frame = spark.range(1200).select(
        F.rand(1).alias("x"),
        F.rand(2).alias("y"),
        F.expr("element_at(array('a', 'b', 'c'), CAST(id % 3 + 1 AS INT)) AS c"),
    )
    return frame.withColumn("label", ((F.col("x") + F.col("y") > 1) != (F.col("c") == "c")).cast("double")).cache()


def _pipeline() -> VersionedPipeline:
    return VersionedPipeline(
        stages=[
            StringIndexer(inputCol="c", outputCol="ci"),
            OneHotEncoder(inputCol="ci", outputCol="co"),
            VectorAssembler(inputCols=["x", "y", "co"], outputCol="features"),
            LogisticRegression(maxIter=10),
        ]
    )


@pytest.fixture(scope="module")
def model(data: DataFrame) -> PipelineModel:
    return _pipeline().fit(data)


@pytest.fixture(scope="module")
def server(model: PipelineModel, data: DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("serve-twin")
    repo = LocalRepository(home / "repo")
    deploy(model, "com.acme:churn:1.0", repository=repo, training_data=data, code=None, portable="onnx")
    with serving(
        repo, home, ["com.acme:churn:1.0", "--reload", "1", "--max-records", "100"], startup=STARTUP
    ) as running:
        yield running


RECORDS = [
    {"x": 0.2, "y": 0.3, "c": "a"},
    {"x": 0.9, "y": 0.8, "c": "b"},
    {"x": 0.7, "y": 0.6, "c": "c"},
    {"x": 0.1, "y": 0.95, "c": "a"},
]


def _descendants(pid: int) -> list[str]:
    """The command lines of every process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            found.append((Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
        todo += children.get(child, [])
    return found


def test_predictions_on_the_twin_equal_spark_and_no_jvm_runs(
    server: Server, model: PipelineModel, spark: SparkSession
) -> None:
    answer = server.post(RECORDS)
    assert answer.status_code == 200, answer.text
    assert not [c for c in _descendants(server.process.pid) if "java" in c]
    body = answer.json()
    assert body["model"] == "com.acme:churn:1.0.0"
    expected = model.transform(spark.createDataFrame(RECORDS, "x double, y double, c string")).collect()
    assert body["predictions"] == [r.prediction for r in expected]
    for mine, theirs in zip(body["probabilities"], expected, strict=True):
        assert mine == pytest.approx(theirs.probability.toArray().tolist(), abs=1e-5)
    card = httpx.get(server.url + "/model").json()
    assert card["engine"] == "onnx" and card["portable"]["parity"]["label_agreement"] == 1.0
    assert sorted(c["name"] for c in card["inputs"]) == ["c", "x", "y"]
    assert "SparkContext" not in server.output() and "on its ONNX twin" in server.output()


def test_shapes_and_errors_as_on_spark(server: Server) -> None:
    split = {"dataframe_split": {"columns": ["x", "y", "c"], "data": [[0.2, 0.3, "a"], [0.9, 0.8, "b"]]}}
    assert server.post(split).json()["predictions"] == server.post(RECORDS[:2]).json()["predictions"]
    unseen = server.post([RECORDS[0], {"x": 0.5, "y": 0.5, "c": "zebra"}])
    assert unseen.status_code == 422
    assert unseen.json()["error_code"] == "BAD_REQUEST"
    assert "Column 'c' has the value 'zebra'" in unseen.json()["message"]
    mistyped = server.post([{"x": "high", "y": 0.5, "c": "a"}])
    assert mistyped.status_code == 400 and "x" in mistyped.json()["message"]
    assert server.post(RECORDS).status_code == 200  # the next request is served


def test_workers_are_processes_each_with_its_own_twin(server: Server, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(registry.__file__).resolve().parents[1])}
    env["REGISTRY_CACHE"] = str(tmp_path / "cache")
    command = [sys.executable, "-m", "registry", "serve", "com.acme:churn:1.0.0", "-r", str(server.repo.root)]
    command += ["--port", str(port), "--workers", "2", "--engine", "onnx"]
    log = tmp_path / "workers.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        answers = [httpx.post(url + "/predict", json=RECORDS, timeout=30).json() for _ in range(20)]
        assert {a["model"] for a in answers} == {"com.acme:churn:1.0.0"}
        assert all(a["predictions"] == answers[0]["predictions"] for a in answers)
        below = _descendants(process.pid)
        assert len([c for c in below if "multiprocessing" in c or "registry" in c]) >= 2, below
        assert not [c for c in below if "java" in c]
    finally:
        process.terminate()
        process.wait(30)


def test_hot_reload_between_twin_builds_without_a_failed_request(server: Server, data: DataFrame) -> None:
    before = server.post(RECORDS[:1]).json()["model"]
    failures: list[str] = []
    answered_by: list[str] = []
    stop = threading.Event()

    def keep_posting() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                try:
                    answer = client.post(server.url + "/predict", json=RECORDS[:2])
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code} {answer.text}")
                    else:
                        answered_by.append(answer.json()["model"])
                except httpx.HTTPError as error:
                    failures.append(repr(error))

    poster = threading.Thread(target=keep_posting)
    poster.start()
    try:
        newer = deploy(
            _pipeline().fit(data.sample(0.9, seed=3)), "com.acme:churn:1.0", repository=server.repo, code=None,
            training_data=data, portable="onnx",
        )  # fmt: skip
        deployed = time.monotonic()
        while not answered_by or answered_by[-1] != str(newer):
            assert time.monotonic() - deployed < 60, server.output()[-3000:]
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        poster.join()
    assert failures == []
    switch = answered_by.index(str(newer))
    assert answered_by[0] == before and set(answered_by[switch:]) == {str(newer)}
    assert f"Now serving {newer} on its twin (was {before})" in server.output()


def test_a_newer_build_without_a_twin_is_logged_and_the_old_one_keeps_serving(
    server: Server, model: PipelineModel, data: DataFrame
) -> None:
    serving = server.post(RECORDS[:1]).json()["model"]
    plain = deploy(model, "com.acme:churn:1.0", repository=server.repo, training_data=data, code=None)
    deadline = time.monotonic() + 30
    while f"{plain} has no twin" not in server.output():
        assert time.monotonic() < deadline, server.output()[-3000:]
        time.sleep(0.2)
    assert server.post(RECORDS[:1]).json()["model"] == serving
