"""A real Spark Connect server (the one inside pyspark), started once per test run, and a client session on it.

The server is ``spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer`` from the installed
pyspark, on ``local[2]`` and a free port on 127.0.0.1, without a UI, with the JVM options of the other Spark
tests (no internet, a quick JVM). The client session sets ``spark.registry.modelDir`` to a temporary directory:
client and server run on this machine, so they share it under the same path.

pyspark decides "Connect or classic" for the whole process (``SPARK_CONNECT_MODE_ENABLED``, set by the first
remote session and never unset by pyspark), and its builder refuses a remote session while a classic one runs.
The client session is therefore module-scoped, built the way that builder builds it (without the refusal), and
puts the variable back as it found it, so the classic Spark tests before or after these in the same process
stay classic.

Tests here are marked ``spark`` and ``integration``. No Java, no Connect server jar in pyspark (pyspark 3.5 ships
none: it would be downloaded with ``--packages``), or no Connect Python dependencies skip them on a developer's
machine and fail them under CI (:func:`realtools.require_tool`).
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from realtools import free_port, missing, require_tool
from sparktools import NO_INTERNET, QUICK_JVM, make_pipeline

HERE = Path(__file__).parent
_CONNECT_ENV = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE")
_START_TIMEOUT = 120.0


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sc://127.0.0.1:PORT`` of a Spark Connect server running for the whole test run."""
    require_tool(shutil.which("java") is not None, "java")
    try:
        importlib.import_module("pyspark.sql.connect.session")  # needs grpcio, pandas, pyarrow, ...
    except ImportError as error:
        missing(f"Spark Connect's Python dependencies (pip install -e '.[connect]'): {error}")
    home = Path(pyspark.__file__).parent
    require_tool(any((home / "jars").glob("spark-connect_*.jar")), f"the Spark Connect server jar in {home / 'jars'}")
    work = tmp_path_factory.mktemp("connect-server")
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in _CONNECT_ENV}
    environment.update(SPARK_HOME=str(home), PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        "--driver-memory",
        "512m",
        "--driver-java-options",
        f"{NO_INTERNET} {QUICK_JVM}",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.shuffle.partitions=2",
        "--conf",
        f"spark.local.dir={work}",
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "spark-internal",
    ]
    log = work / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT, cwd=work)
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-4000:]
                pytest.fail(f"the Spark Connect server did not start on port {port}:\n{tail}", pytrace=False)
            time.sleep(0.3)
        yield f"sc://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def connect(connect_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """A Spark Connect client session whose ``spark.registry.modelDir`` is a directory shared with the server."""
    from pyspark.sql.connect.session import SparkSession as RemoteSparkSession

    before = {name: os.environ.get(name) for name in _CONNECT_ENV}
    # What SparkSession.builder.remote(...).getOrCreate() does, minus its refusal (SESSION_ALREADY_EXIST) when a
    # classic session runs in the process, as the classic Spark tests' one does when they run first.
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    session = RemoteSparkSession.builder.remote(connect_url).getOrCreate()
    session.conf.set("spark.registry.modelDir", tmp_path_factory.mktemp("connect-models").as_uri())
    try:
        yield session
    finally:
        session.stop()
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def connect_train(connect: SparkSession) -> DataFrame:
    """The 60 rows of the classic tests' ``train`` (same seeds), made by the server."""
    data = connect.range(60).select("id", F.rand(1).alias("x"), F.rand(2).alias("y"))
    return data.withColumn("label", (F.col("x") + F.col("y") > 1).cast("double"))


@pytest.fixture(scope="module")
def connect_fitted(connect_train: DataFrame) -> PipelineModel:
    """The classic tests' pipeline, fitted over Connect (on the server)."""
    return make_pipeline().fit(connect_train)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.integration)
