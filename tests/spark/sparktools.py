"""Helpers for the Spark tests: the pipeline they fit, and running ``spark-submit`` with no internet."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from realtools import require_tool

import registry
from registry.spark import VersionedPipeline

#: JVM flags that make any stray download fail at once instead of leaving the machine: the proxy is a closed
#: port, and Java's default nonProxyHosts (localhost, 127.*) keeps our own test servers reachable.
NO_INTERNET = "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=9 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=9"
#: A short-lived JVM spends most of its CPU compiling with C2; C1 alone halves the CPU of a spark-submit run.
QUICK_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def make_pipeline(watermark_col: str = "pipeline") -> VersionedPipeline:
    """Assembler (x, y -> features) and a 5-iteration logistic regression, watermarked."""
    return VersionedPipeline(
        stages=[
            VectorAssembler(inputCols=["x", "y"], outputCol="features"),
            LogisticRegression(maxIter=5, regParam=0.01),
        ],
        watermarkCol=watermark_col,
    )


# --- spark-submit ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    """A finished ``spark-submit`` run."""

    returncode: int
    stdout: str
    stderr: str

    def result(self, key: str) -> str:
        """The value the job printed as ``KEY=value``."""
        for line in self.stdout.splitlines():
            if line.startswith(f"{key}="):
                return line.split("=", 1)[1]
        raise AssertionError(f"the job printed no {key}=...\n{self.stdout}\n{self.stderr[-4000:]}")


def spark_submit(
    args: list[str], env: dict[str, str] | None = None, *, program: str = "spark-submit", master: str = "local[1]"
) -> subprocess.Popen[str]:
    """Start ``spark-submit`` (or ``program``: ``spark-shell``) from this virtualenv (the job runs with this Python),
    no internet, nothing read from stdin."""
    binary = Path(sys.executable).parent / program
    require_tool(binary.is_file(), f"{program} (pip install pyspark)")
    environment = {**os.environ, **(env or {})}
    environment.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    # The job imports the registry under test (this checkout), not whichever one the virtualenv has installed.
    checkout = str(Path(registry.__file__).resolve().parents[1])
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [checkout, environment.get("PYTHONPATH")]))
    command = [
        str(binary),
        "--master",
        master,
        "--driver-memory",
        "512m",
        "--driver-java-options",
        f"{NO_INTERNET} {QUICK_JVM}",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.log.level=WARN",
        *args,
    ]
    return subprocess.Popen(
        command, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], timeout: float = 120) -> Submitted:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    return Submitted(process.returncode, stdout, stderr)
