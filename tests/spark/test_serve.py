"""``registry serve``: a real server process (its own small Spark session) on a free port, a real HTTP client.

One server serves ``com.acme:churn:1.0`` with ``--reload 1`` for the whole module; the tests that deploy new
builds run last, and every comparison is made with the build the server says answered.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cardhelpers import run_cli
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from sparktools import NO_INTERNET, QUICK_JVM, Server, make_pipeline, serving

from registry.repository.local import LocalRepository
from registry.spark import deploy, resolve
from registry.store import publish

pytestmark = pytest.mark.spark

STARTUP = 240.0  # seconds: a JVM, a model load and a warm-up on a busy 2-core machine


@pytest.fixture(scope="module")
def server(fitted: PipelineModel, train: DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("serve")
    repo = LocalRepository(home / "repo")
    deploy(fitted, "com.acme:churn:1.0", repository=repo, training_data=train, code=None)
    args = [
        "com.acme:churn:1.0", "--reload", "1", "--max-records", "100", "--max-body", "100000",
        "--conf", "spark.master=local[1]", "--conf", "spark.driver.memory=512m",
        "--conf", f"spark.driver.extraJavaOptions={NO_INTERNET} {QUICK_JVM}",
    ]  # fmt: skip
    with serving(repo, home, args, startup=STARTUP) as running:
        yield running


def _records(train: DataFrame, rows: int = 20) -> list[dict[str, float]]:
    return [{"x": r.x, "y": r.y} for r in train.select("x", "y").limit(rows).collect()]


def _batch(spark: SparkSession, server: Server, coordinate: str, records: list[dict[str, float]]) -> list[Any]:
    model = resolve(coordinate, repository=server.repo, spark=spark)
    frame = spark.createDataFrame([(r["x"], r["y"]) for r in records], "x double, y double").coalesce(1)
    return model.transform(frame).select("prediction", "probability", "pipeline").collect()


def test_predictions_equal_batch_transform(spark: SparkSession, server: Server, train: DataFrame) -> None:
    records = _records(train)
    answer = server.post(records)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = _batch(spark, server, body["model"], records)
    assert body["predictions"] == [r.prediction for r in expected]
    assert body["probabilities"] == [r.probability.toArray().tolist() for r in expected]
    assert {r.pipeline for r in expected} == {body["model"]}
    health = httpx.get(server.url + "/health").json()
    assert health == {"status": "ok", "model": body["model"]}
    card = httpx.get(server.url + "/model").json()
    assert card["coordinate"] == body["model"] and card["training_rows"] == 60
    assert [c["name"] for c in card["inputs"]] == ["x", "y"] and card["selector"] == "com.acme:churn:1.0"


def test_mlflow_shapes_are_accepted(server: Server, train: DataFrame) -> None:
    records = _records(train, 3)
    plain = server.post(records).json()["predictions"]
    split = {"dataframe_split": {"columns": ["y", "x"], "data": [[r["y"], r["x"]] for r in records]}}
    for body in ({"dataframe_records": records}, split, {"instances": records}, {"records": records}):
        for path in ("/invocations", "/predict"):
            answer = server.post(body, path)
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == plain


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"[{", 400, "not valid JSON"),
        (b'[{"x": 0.5}]', 400, "Record 0 has no column 'y'; the model reads x, y"),
        (b'[{"x": 0.5, "y": "0.5"}]', 400, "Column 'y' of record 0 is \"0.5\", not a number (type double)"),
        (b'[{"x": 0.5, "y": null}]', 400, "Column 'y' of record 0 is null"),
        (b"[" + b",".join([b'{"x": 0.5, "y": 0.5}'] * 101) + b"]", 413, "at most 100 are accepted"),
        (b'[{"x": 0.5, "y": 0.5}]' + b" " * 100_000, 413, "at most 100000 are accepted"),
        (b'{"columns": ["x"]}', 400, "Expected a list of records"),
    ],
)
def test_malformed_input_is_4xx_and_the_next_request_succeeds(
    server: Server, body: bytes, status: int, message: str
) -> None:
    answer = httpx.post(server.url + "/predict", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    assert message in answer.json()["message"]
    assert server.post([{"x": 0.5, "y": 0.5}]).status_code == 200


def test_concurrent_clients_get_their_own_answers(server: Server) -> None:
    """16 clients at once: batched together, and every answer is about the records its request sent."""

    def client(index: int) -> list[tuple[float, float, float]]:
        seen = []
        for step in range(10):
            records = [{"x": (index * 10 + step) / 160, "y": k / 3} for k in range(1 + (index + step) % 3)]
            body = server.post(records).json()
            seen.extend((r["x"], r["y"], p) for r, p in zip(records, body["predictions"], strict=True))
        return seen

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answered = [row for rows in pool.map(client, range(16)) for row in rows]
    records = [{"x": x, "y": y} for x, y, _ in answered]
    alone = [p for i in range(0, len(records), 100) for p in server.post(records[i : i + 100]).json()["predictions"]]
    assert [p for _, _, p in answered] == alone


def test_a_new_build_is_picked_up_without_a_failed_request(server: Server, train: DataFrame, tmp_path: Path) -> None:
    before = server.post([{"x": 0.5, "y": 0.5}]).json()["model"]
    failures: list[str] = []
    answered_by: list[str] = []
    stop = threading.Event()

    def keep_posting() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                try:
                    answer = client.post(server.url + "/predict", json=[{"x": 0.25, "y": 0.75}])
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
            make_pipeline().fit(train.sample(0.8, seed=3)), "com.acme:churn:1.0", repository=server.repo, code=None,
            training_data=train,
        )  # fmt: skip
        deployed = time.monotonic()
        while not answered_by or answered_by[-1] != str(newer):
            assert time.monotonic() - deployed < 120, server.output()[-3000:]
            time.sleep(0.2)
        took = time.monotonic() - deployed
        time.sleep(1)  # and keeps answering
    finally:
        stop.set()
        poster.join()
    assert failures == []
    assert answered_by[0] == before and answered_by[-1] == str(newer)
    switch = answered_by.index(str(newer))
    assert set(answered_by[switch:]) == {str(newer)}  # no going back
    assert f"Now serving {newer} (was {before})" in server.output()
    print(f"new build served {took:.1f} s after its deploy (reload interval 1 s); {len(answered_by)} requests")

    # The same build resolved and deployed again from the command line (no Spark): served, it says its own build.
    here = tmp_path / "here"
    assert run_cli("resolve", str(newer), "-r", str(server.repo.root), "--to", str(here))[0] == 0
    code, out, err = run_cli("deploy", str(here), "com.acme:churn:1.0", "-r", str(server.repo.root))
    assert code == 0, err
    by_cli = out.strip().splitlines()[-1]
    deadline = time.monotonic() + 120
    while f"Now serving {by_cli}" not in server.output():
        assert time.monotonic() < deadline, server.output()[-3000:]
        time.sleep(0.5)
    assert server.post([{"x": 0.25, "y": 0.75}]).json()["model"] == by_cli
    assert httpx.get(server.url + "/model", timeout=60).json()["coordinate"] == by_cli


def test_a_build_that_fails_to_load_is_logged_and_the_old_one_keeps_serving(
    server: Server, train: DataFrame, tmp_path: Path
) -> None:
    serving = server.post([{"x": 0.5, "y": 0.5}]).json()["model"]
    # Deployed into a copy of the repository and damaged there, then listed in the served one: the server never
    # sees the version before its jar is broken (damaging it after the deploy would race the reload).
    side = LocalRepository(tmp_path / "side")
    shutil.copytree(server.repo.root, side.root)
    broken = deploy(make_pipeline().fit(train), "com.acme:churn:1.0", repository=side, code=None)
    jar = side.root / broken.path("jar")
    jar.write_bytes(jar.read_bytes()[:-100] + b"\0" * 100)  # its checksums no longer match
    folder = jar.parent.relative_to(side.root)
    shutil.copytree(side.root / folder, server.repo.root / folder)
    publish(server.repo, broken.module, [broken.version])
    deadline = time.monotonic() + 60
    while f"{broken} failed to load or to answer" not in server.output():
        assert time.monotonic() < deadline, server.output()[-3000:]
        time.sleep(0.5)
    assert server.post([{"x": 0.5, "y": 0.5}]).json()["model"] == serving
    assert httpx.get(server.url + "/health").json()["model"] == serving
