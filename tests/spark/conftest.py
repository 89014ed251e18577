"""One local SparkSession for the whole run, a fitted watermarked pipeline, and a real nginx repository.

Spark tests are marked ``spark`` (and ``integration``: they run a real JVM). A missing Java skips them on a
developer's machine and fails them under CI, like every real tool (:func:`realtools.require_tool`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.servers import Credentials, DavRepo, DavServer, ServerNotInstalled, find_nginx, nginx
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from realtools import require_tool
from sparktools import NO_INTERNET, QUICK_JVM, make_pipeline

from registry.repository.local import LocalRepository

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    require_tool(shutil.which("java") is not None, "java")
    # Python workers (pyspark 3.5 saves a model's metadata through a Python RDD) must run this interpreter, not
    # whichever python3 is first on PATH: Spark refuses a worker of another minor version.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("registry-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "512m")
        .config("spark.driver.extraJavaOptions", f"{NO_INTERNET} {QUICK_JVM}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def train(spark: SparkSession) -> DataFrame:
    """60 rows of synthetic data: x, y uniform in [0, 1), label = x + y > 1."""
    data = spark.range(60).select("id", F.rand(1).alias("x"), F.rand(2).alias("y"))
    return data.withColumn("label", (F.col("x") + F.col("y") > 1).cast("double")).cache()


@pytest.fixture(scope="session")
def fitted(train: DataFrame) -> PipelineModel:
    """A VersionedPipeline (assembler + logistic regression) fitted once for the whole run."""
    return make_pipeline().fit(train)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE) and "spark" in item.keywords:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def repo(tmp_path: Path) -> LocalRepository:
    return LocalRepository(tmp_path / "repo")


# --- a real HTTP repository (nginx WebDAV), shared with tests/integration --------------------------------


@pytest.fixture(scope="session")
def nginx_dav() -> Iterator[DavServer]:
    try:
        binary = find_nginx()
    except ServerNotInstalled as error:
        require_tool(False, str(error))
        raise
    with nginx(binary, Credentials("deployer", secrets.token_urlsafe(12))) as server:
        yield server


@pytest.fixture
def nginx_repo(nginx_dav: DavServer, request: pytest.FixtureRequest) -> DavRepo:
    return nginx_dav.new_repo("nginx", request.node.name)
