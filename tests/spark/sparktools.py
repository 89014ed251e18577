"""Helpers for the Spark tests: the pipeline they fit, running ``spark-submit`` with no internet, and a
``registry serve`` process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from realtools import free_port, require_tool

import registry
from registry.repository.local import LocalRepository
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


# --- registry serve --------------------------------------------------------------------------------------


@dataclass
class Server:
    """A ``registry serve`` process answering on ``url``, serving from ``repo``."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    repo: LocalRepository
    cache: Path

    def post(self, body: Any, path: str = "/predict", **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=60, **kwargs)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def serving(repo: LocalRepository, home: Path, args: list[str], *, startup: float) -> Iterator[Server]:
    """``registry serve ARGS -r REPO`` from this checkout on a free port (its cache, config and home under
    ``home``), once ``/health`` answers (within ``startup`` seconds); stopped afterwards."""
    with serve_process(home, [*args, "-r", str(repo.root)], startup=startup) as (url, process, log):
        yield Server(url, process, log, repo, home / "cache")


@contextlib.contextmanager
def serve_process(
    home: Path, args: list[str], *, startup: float, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``registry serve ARGS`` from this checkout on a free port (its cache, config and home under ``home``, ``env``
    added to this process's environment), once ``/health`` answers (within ``startup`` seconds): its URL, process
    and log; stopped afterwards."""
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": str(Path(registry.__file__).resolve().parents[1]),  # this checkout's registry
        "REGISTRY_CACHE": str(home / "cache"),
        "REGISTRY_CONFIG": str(home / "config.toml"),
        "HOME": str(home),
        **(env or {}),
    }
    log = home / "server.log"
    command = [sys.executable, "-m", "registry", "serve", *args, "--port", str(port)]
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, env=environment, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-4000:]
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
            time.sleep(0.2)
        yield url, process, log
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
