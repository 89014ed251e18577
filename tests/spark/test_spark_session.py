"""Which session registry.spark uses: explicit, this thread's active one, else the process's default one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession

from registry.repository.local import LocalRepository
from registry.spark import deploy, resolve, side_by_side
from registry.spark.session import active_session, is_connect

pytestmark = pytest.mark.spark


def test_deploy_and_resolve_from_another_thread(
    spark: SparkSession, fitted: PipelineModel, train: DataFrame, repo: LocalRepository
) -> None:
    seen: dict[str, object] = {}

    def work() -> str:
        seen["active"] = SparkSession.getActiveSession()
        coordinate = str(deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None))
        model = resolve(coordinate, repository=repo)
        both = side_by_side(train, model, "com.acme:churn:latest.release", repository=repo)
        assert both.select("challenger_pipeline").first()[0] == coordinate
        return str(model.transform(train).select("pipeline").first()[0])

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(work).result(timeout=300) == "com.acme:churn:1.0.0"
    # What made this fail before: pyspark's active session is per thread, and that thread had none.
    assert seen["active"] is None
    worker = threading.Thread(target=lambda: seen.update(found=active_session()))
    worker.start()
    worker.join()
    assert seen["found"] is spark


def test_an_explicit_session_wins(spark: SparkSession) -> None:
    assert not is_connect(spark)
    other = spark.newSession()
    assert active_session(other) is other
    assert active_session() is spark
