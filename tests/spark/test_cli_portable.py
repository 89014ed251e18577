"""``registry deploy DIR COORD --portable onnx|auto`` and the repository's ``portable`` default (issue 21): the
saved pipeline is loaded in a local Spark session, converted and proven equal on ``--parity-data``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cardhelpers import run_cli
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from sparktools import NO_INTERNET, QUICK_JVM

from registry.coordinates import Coordinate
from registry.modelcard import ModelCard
from registry.repository.local import LocalRepository
from registry.spark import deploy

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def saved(fitted: PipelineModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fitted pipeline saved once: every test only reads it."""
    location = tmp_path_factory.mktemp("cli-portable") / "saved"
    fitted.write().save(str(location))
    return location


@pytest.fixture(scope="module")
def parity(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 rows of x, y as parquet (the parity check wants at least 1,000), written once."""
    location = tmp_path_factory.mktemp("cli-portable") / "parity.parquet"
    spark.range(1200).select(F.rand(3).alias("x"), F.rand(4).alias("y")).write.parquet(str(location))
    return location


def _configure(isolated_env: Path, repo: LocalRepository, portable: str) -> None:
    (isolated_env / "config.toml").write_text(
        f'[repositories.models]\nurl = "{repo.root.as_uri()}"\nportable = "{portable}"\n'
    )


def _assert_twin(repo: LocalRepository, released: str) -> None:
    coordinate = Coordinate.parse(released)
    twin = coordinate.path("onnx", "onnx")
    assert twin.endswith(f"-{coordinate.version}-onnx.onnx")
    content = repo.read(twin)
    assert repo.read(f"{twin}.sha256").decode().split()[0] == hashlib.sha256(content).hexdigest()
    section = ModelCard.from_json(repo.read(coordinate.path("json", "model"))).portable
    assert section is not None and section["format"] == "onnx"
    assert [c["name"] for c in section["inputs"]] == ["x", "y"]
    assert section["parity"]["rows"] >= 1000 and section["parity"]["label_agreement"] == 1.0


def test_cli_deploy_portable_onnx_attaches_the_twin(saved: Path, parity: Path, repo: LocalRepository) -> None:
    code, out, err = run_cli(
        "deploy", str(saved), "com.acme:churn:1.0", "-r", str(repo.root), "--portable", "onnx",
        "--parity-data", str(parity),
    )  # fmt: skip
    assert code == 0, err
    released = out.strip().splitlines()[-1]
    assert released == "com.acme:churn:1.0.0"
    _assert_twin(repo, released)


def test_cli_deploy_portable_onnx_without_parity_data_releases_nothing(saved: Path, repo: LocalRepository) -> None:
    code, out, err = run_cli("deploy", str(saved), "com.acme:churn:1.0", "-r", str(repo.root), "--portable", "onnx")
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--parity-data PATH" in err and "Traceback" not in err
    assert not (repo.root / "com").exists()


def test_cli_deploy_portable_auto_without_parity_data_releases_without_twin(saved: Path, repo: LocalRepository) -> None:
    code, out, err = run_cli("deploy", str(saved), "com.acme:churn:1.0", "-r", str(repo.root), "--portable", "auto")
    assert code == 0, err
    assert "warning: released without an ONNX twin" in err
    released = Coordinate.parse(out.strip().splitlines()[-1])
    assert repo.exists(released.path("jar")) and not repo.exists(released.path("onnx", "onnx"))


def test_the_repository_default_applies_to_the_cli_and_to_python(
    saved: Path, parity: Path, repo: LocalRepository, isolated_env: Path, fitted: PipelineModel, spark: SparkSession
) -> None:
    _configure(isolated_env, repo, "onnx")
    code, _, err = run_cli("deploy", str(saved), "com.acme:churn:1.0", "-r", "models")
    assert code != 0 and "The repository's `portable` setting asks for an ONNX twin" in err
    assert not (repo.root / "com").exists()

    code, out, err = run_cli("deploy", str(saved), "com.acme:churn:1.0", "-r", "models", "--parity-data", str(parity))
    assert code == 0, err
    _assert_twin(repo, out.strip().splitlines()[-1])

    by_python = deploy(
        fitted, "com.acme:churn:1.0", repository="models", code=None, parity_data=spark.read.parquet(str(parity))
    )
    _assert_twin(repo, str(by_python))


def test_a_cli_process_starts_its_own_spark_only_for_the_twin(saved: Path, parity: Path, repo: LocalRepository) -> None:
    """In a process of its own (no session to borrow), ``--portable`` starts a local session and stops it."""
    command = [sys.executable, "-m", "registry", "deploy", str(saved), "com.acme:churn:1.0", "-r", str(repo.root)]
    twin = ["--portable", "onnx", "--parity-data", str(parity)]
    # the JVM it starts gets this session's flags (C1 only, no internet), read by every JVM from the environment
    env = {**os.environ, "JAVA_TOOL_OPTIONS": f"{NO_INTERNET} {QUICK_JVM}"}
    done = subprocess.run([*command, *twin], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    _assert_twin(repo, done.stdout.strip().splitlines()[-1])
