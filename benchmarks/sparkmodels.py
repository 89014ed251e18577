"""The Spark side of the benchmarks: one session configuration and the models measured, shared by
spark_deploy_resolve.py, mlflow_peer.py and watermark.py so that every figure is about the same models."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: JVM flags that make any stray download fail at once: the proxy is a closed port (as in tests/spark/sparktools.py).
NO_INTERNET = "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=9 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=9"


def session(app: str) -> Any:
    """A local[2] session with no UI, no progress bars, and no way to reach the internet."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no lookup of this host's name
    spark = (
        SparkSession.builder.master("local[2]")
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "2g")
        .config("spark.driver.extraJavaOptions", NO_INTERNET)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@dataclass(frozen=True)
class ModelSpec:
    """How a benchmark model is made; ``describe`` is what RESULTS.md quotes."""

    name: str
    describe: str
    rows: int
    features: int
    make_estimator: Callable[[], Any]


def _lr() -> Any:
    from pyspark.ml.classification import LogisticRegression

    return LogisticRegression(maxIter=10, regParam=0.01)


def _rf() -> Any:
    # A regression forest on a noisy target grows its trees out to depth 15: tens of MB, fitted in about a minute.
    from pyspark.ml.regression import RandomForestRegressor

    return RandomForestRegressor(numTrees=40, maxDepth=15, seed=7)


MODELS = {
    "lr": ModelSpec("lr", "VectorAssembler + LogisticRegression, 1,000 rows x 5 features", 1_000, 5, _lr),
    "rf": ModelSpec("rf", "VectorAssembler + RandomForestRegressor 40 trees depth 15, 20,000 x 10", 20_000, 10, _rf),
}


def features(spark: Any, rows: int, count: int) -> Any:
    """``rows`` rows of ``count`` uniform features ``f0``, ``f1``, ..."""
    from pyspark.sql import functions as F

    return spark.range(rows).select(*[F.rand(seed).alias(f"f{seed}") for seed in range(count)])


def training_data(spark: Any, spec: ModelSpec) -> Any:
    """Uniform features and a noisy label from two of them (0/1 for the classifier, continuous for the forest)."""
    from pyspark.sql import functions as F

    data = features(spark, spec.rows, spec.features)
    label = F.col("f0") + F.col("f1") + F.rand(99)
    if spec.name == "lr":
        label = (label > 1.5).cast("double")
    return data.withColumn("label", label).cache()


def fit(spark: Any, name: str) -> tuple[Any, Any, float]:
    """``(model, training data, seconds to fit)``: a watermarked pipeline, as a registry user would fit it."""
    from pyspark.ml.feature import VectorAssembler

    from registry.spark import VersionedPipeline

    spec = MODELS[name]
    data = training_data(spark, spec)
    data.count()
    features = [f"f{i}" for i in range(spec.features)]
    pipeline = VersionedPipeline(
        stages=[VectorAssembler(inputCols=features, outputCol="features"), spec.make_estimator()]
    )
    started = time.perf_counter()
    model = pipeline.fit(data)
    return model, data, time.perf_counter() - started


def size_mb(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 1e6


def versions() -> str:
    """Python, Java and pyspark versions, for the header of each run."""
    import pyspark

    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()
    return f"Python {platform.python_version()}, {java[0] if java else 'no java'}, pyspark {pyspark.__version__}"


def run_children(script: Path, names: list[str], *args: str) -> None:
    """Run ``script --child NAME ARGS`` once per model, each in a fresh process (a fresh JVM), streaming its
    stdout; the JVM's start-up chatter on stderr is shown only if the child fails."""
    # Outside any git checkout: deploy records the git lineage of its working directory by default, and a
    # benchmark must not run git in a repository others are committing to (a git call that fails is still made).
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    for name in names:
        with tempfile.TemporaryDirectory(prefix="bench-child-") as cwd, open(Path(cwd) / "stderr", "w+") as stderr:
            done = subprocess.run(
                [sys.executable, str(script), "--child", name, *args], cwd=cwd, env=env, stderr=stderr, check=False
            )
            if done.returncode != 0:
                stderr.seek(0)
                sys.stderr.write(stderr.read()[-8000:])
                raise SystemExit(f"{script.name} --child {name} failed with exit code {done.returncode}")
