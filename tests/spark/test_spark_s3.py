"""A Spark model deployed from a session to an s3:// repository (moto's S3 server, tests/s3tools.py) and resolved
into the session with selectors: the same pipeline, stamped with its coordinate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from s3tools import S3Proxy, moto_server, new_bucket, use_aws

from registry.spark import deploy, resolve

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_deploy_from_spark_to_s3_and_resolve_into_the_session(
    fitted: PipelineModel, train: DataFrame, moto: str, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    proxy = S3Proxy(moto)
    try:
        use_aws(monkeypatch, isolated_env, proxy.url)
        url = f"s3://{new_bucket(moto)}/maven"
        first = deploy(fitted, "com.acme:churn:1.0", repository=url, code=None)
        second = deploy(fitted, "com.acme:churn:1.0", repository=url, code=None)
        assert (str(first), str(second)) == ("com.acme:churn:1.0.0", "com.acme:churn:1.0.1")
        for selector, expected in [("latest.release", second), ("1.0.+", second), ("1.0.0", first)]:
            model = resolve(f"com.acme:churn:{selector}", repository=url)
            assert model.transform(train).select("pipeline").first()[0] == str(expected), selector
    finally:
        proxy.close()
