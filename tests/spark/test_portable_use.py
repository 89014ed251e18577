"""Using a released twin: categories as Spark treats them, by coordinate from Python and the CLI, verified."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from gpgtools import Keys
from pyspark.ml import PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from registry import portable
from registry.cli import cli
from registry.coordinates import Coordinate
from registry.exceptions import IntegrityError, InvalidInput, SignatureError
from registry.portable.run import Twin
from registry.repository.local import LocalRepository
from registry.spark import VersionedPipeline, deploy

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def data(spark: SparkSession) -> DataFrame:
    """1,200 rows: x, y in [0, 1), a category c in {a, b, c}, label = x + y > 1 (flipped for c = 'c')."""
    frame = spark.range(1200).select(
        F.rand(1).alias("x"),
        F.rand(2).alias("y"),
        F.expr("element_at(array('a', 'b', 'c'), CAST(id % 3 + 1 AS INT)) AS c"),
    )
    return frame.withColumn("label", ((F.col("x") + F.col("y") > 1) != (F.col("c") == "c")).cast("double")).cache()


def _encoded(indexer_invalid: str, drop_last: bool | None, encoder_invalid: str) -> VersionedPipeline:
    """Indexer, encoder (``drop_last=None``: none, the index itself is a feature), assembler, regression."""
    indexer = StringIndexer(inputCol="c", outputCol="ci", handleInvalid=indexer_invalid)
    if drop_last is None:
        assembler = VectorAssembler(inputCols=["x", "y", "ci"], outputCol="features")
        return VersionedPipeline(stages=[indexer, assembler, LogisticRegression(maxIter=10)])
    return VersionedPipeline(
        stages=[
            indexer,
            OneHotEncoder(inputCol="ci", outputCol="co", dropLast=drop_last, handleInvalid=encoder_invalid),
            VectorAssembler(inputCols=["x", "y", "co"], outputCol="features"),
            LogisticRegression(maxIter=10),
        ]
    )


def _spark_rows(model: PipelineModel, spark: SparkSession, records: list[dict[str, object]]) -> list[dict[str, object]]:
    frame = spark.createDataFrame(records, "x double, y double, c string")
    return [
        {"prediction": r["prediction"], "probability": list(r["probability"])} for r in model.transform(frame).collect()
    ]


RECORDS = [{"x": 0.2, "y": 0.3, "c": "a"}, {"x": 0.9, "y": 0.8, "c": "b"}, {"x": 0.7, "y": 0.6, "c": "c"}]
UNSEEN = [{"x": 0.9, "y": 0.8, "c": "zebra"}, {"x": 0.1, "y": 0.2, "c": None}]


@pytest.mark.parametrize(
    ("indexer_invalid", "drop_last", "encoder_invalid"),
    [
        ("keep", True, "keep"),
        ("keep", False, "keep"),
        ("error", False, "error"),
        ("keep", True, "error"),
        ("keep", None, ""),  # the index as a feature: an unseen category's own index (3) weighs in the prediction
    ],
)
def test_encoder_variants_convert_and_agree(
    indexer_invalid: str,
    drop_last: bool | None,
    encoder_invalid: str,
    data: DataFrame,
    spark: SparkSession,
    repo: LocalRepository,
) -> None:
    model = _encoded(indexer_invalid, drop_last, encoder_invalid).fit(data)
    coordinate = deploy(model, "com.acme:churn:1.0", repository=repo, training_data=data, code=None, portable="onnx")
    twin = Twin(repo.read(coordinate.path("onnx", "onnx")), coordinate=str(coordinate))
    records = RECORDS + (UNSEEN if indexer_invalid == "keep" else [])
    # under 'keep' an unseen category and a null get the index after the known ones, as in Spark
    for mine, theirs in zip(twin.predict(records), _spark_rows(model, spark, records), strict=True):
        assert mine["prediction"] == theirs["prediction"]
        assert mine["probability"] == pytest.approx(theirs["probability"], abs=1e-5)


def test_unseen_category_under_error_is_refused_naming_column_and_value(
    data: DataFrame, spark: SparkSession, repo: LocalRepository
) -> None:
    model = _encoded("error", True, "error").fit(data)  # Spark's defaults
    coordinate = deploy(model, "com.acme:churn:1.0", repository=repo, training_data=data, code=None, portable="onnx")
    twin = Twin(repo.read(coordinate.path("onnx", "onnx")), coordinate=str(coordinate))
    assert [r["prediction"] for r in twin.predict(RECORDS)] == [
        r["prediction"] for r in _spark_rows(model, spark, RECORDS)
    ]
    with pytest.raises(InvalidInput, match=r"Column 'c' has the value 'zebra', a category the model did not see"):
        twin.predict(RECORDS + UNSEEN[:1])
    with pytest.raises(InvalidInput, match=r"Column 'c' has the value null"):
        twin.predict(UNSEEN[1:])
    with pytest.raises(Exception, match=r"(?i)unseen label|zebra"):  # Spark refuses it too
        _spark_rows(model, spark, UNSEEN[:1])
    with pytest.raises(InvalidInput, match=r"Column 'x' takes numbers, not 'high'"):
        twin.predict([{**RECORDS[0], "x": "high"}])
    with pytest.raises(InvalidInput, match=r"no column 'y'"):
        twin.predict([{"x": 0.1, "c": "a"}])


def _require_signatures(home: Path, repository: Path, fingerprint: str) -> None:
    (home / "config.toml").write_text(
        f'[repositories.models]\nurl = "{repository.as_uri()}"\n'
        f'require_signatures = true\ntrusted_keys = ["{fingerprint}"]\n'
    )


@pytest.fixture(scope="module")
def logistic(data: DataFrame) -> PipelineModel:
    stages = [VectorAssembler(inputCols=["x", "y"], outputCol="features"), LogisticRegression(maxIter=5)]
    return VersionedPipeline(stages=stages).fit(data)


@pytest.fixture(scope="module")
def released(
    logistic: PipelineModel, data: DataFrame, gpg_keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LocalRepository, Coordinate, Coordinate]:
    """The logistic pipeline released twice with its twin, once unsigned (1.0.0), once signed (1.0.1): converted
    once for the tests that read them (a test that changes the repository changes a copy of it)."""
    home = tmp_path_factory.mktemp("released-home")  # as isolated_env, which a module fixture cannot use
    local = LocalRepository(tmp_path_factory.mktemp("released") / "m2")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("SOURCE_DATE_EPOCH", raising=False)
        env.setenv("HOME", str(home))
        env.setenv("REGISTRY_CONFIG", str(home / "config.toml"))
        env.setenv("REGISTRY_CACHE", str(home / "cache"))
        env.setenv("GNUPGHOME", str(gpg_keys.home))
        first = deploy(logistic, "com.acme:churn:1.0", repository=local, code=None, parity_data=data, portable="onnx")
        signed = deploy(
            logistic,
            "com.acme:churn:1.0",
            repository=local,
            code=None,
            parity_data=data,
            portable="onnx",
            sign=gpg_keys.signer,
        )
    return local, first, signed


def test_resolve_by_coordinate_and_fetch_from_the_cli(
    released: tuple[LocalRepository, Coordinate, Coordinate],
    logistic: PipelineModel,
    spark: SparkSession,
    gpg_keys: Keys,
    isolated_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    local, first, signed = released
    assert local.exists(signed.path("onnx", "onnx") + ".asc")
    _require_signatures(isolated_env, local.root, gpg_keys.signer)

    twin = portable.resolve("com.acme:churn:latest.release", repository="models")
    assert twin.coordinate == str(signed)
    predicted = twin.predict(RECORDS)
    scored = logistic.transform(spark.createDataFrame(RECORDS, "x double, y double, c string")).collect()
    assert [r["prediction"] for r in predicted] == [r["prediction"] for r in scored]
    assert {r["pipeline"] for r in predicted} == {str(signed)}

    # the first build is unsigned: the repository's policy refuses its twin
    with pytest.raises(SignatureError, match=r"churn-1\.0\.0-onnx\.onnx"):
        portable.resolve(str(first), repository="models")

    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["fetch", "com.acme:churn:1.0", "--classifier", "onnx", "-o", str(out), "-r", "models"]
    )
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.splitlines()[-1])
    assert path == out / "churn-1.0.1-onnx.onnx"
    assert path.read_bytes() == local.read(signed.path("onnx", "onnx"))


def _tamper(local: LocalRepository, coordinate: Coordinate, *, checksums: bool) -> None:
    """Replace the twin with bytes that are not even ONNX: loading it would fail differently."""
    path = local.root / coordinate.path("onnx", "onnx")
    evil = b"not a model at all"
    path.write_bytes(evil)
    if checksums:
        for algorithm in ("md5", "sha1", "sha256", "sha512"):
            (path.parent / f"{path.name}.{algorithm}").write_text(hashlib.new(algorithm, evil).hexdigest())


def test_a_tampered_twin_is_refused_before_it_is_loaded(
    released: tuple[LocalRepository, Coordinate, Coordinate],
    gpg_keys: Keys,
    isolated_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    local = LocalRepository(shutil.copytree(released[0].root, tmp_path / "m2"))
    coordinate = released[2]  # the signed build
    _tamper(local, coordinate, checksums=False)
    with pytest.raises(IntegrityError, match=r"churn-1\.0\.1-onnx\.onnx"):
        portable.resolve(str(coordinate), repository=local, cache_dir=tmp_path / "c1")
    fetch = [sys.executable, "-m", "registry", "fetch", str(coordinate), "--classifier", "onnx"]
    done = subprocess.run([*fetch, "-o", str(tmp_path / "o"), "-r", str(local.root)], capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.startswith("registry: error: Checksum mismatch for churn-1.0.1-onnx")
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "o" / "churn-1.0.1-onnx.onnx").exists()

    # checksums rewritten to match: the signature, which the policy requires, still refuses it
    _tamper(local, coordinate, checksums=True)
    _require_signatures(isolated_env, local.root, gpg_keys.signer)
    with pytest.raises(SignatureError, match=r"churn-1\.0\.1-onnx\.onnx"):
        portable.resolve(str(coordinate), repository="models", cache_dir=tmp_path / "c2")


def test_score_on_the_twin_writes_what_spark_predicts(
    released: tuple[LocalRepository, Coordinate, Coordinate],
    logistic: PipelineModel,
    data: DataFrame,
    spark: SparkSession,
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    local, _, coordinate = released  # latest.release: the signed build
    rows = [r.asDict() for r in data.select("x", "y", "c").limit(300).collect()]
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    out = tmp_path / "scored"
    command = [sys.executable, "-m", "registry", "score", "com.acme:churn:latest.release", "--input", str(source)]
    command += ["--output", str(out), "--engine", "onnx", "-r", str(local.root)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"{coordinate} 300"
    assert (out / "_SUCCESS").exists()
    scored = pq.read_table(out).to_pylist()
    assert [r["x"] for r in scored] == [r["x"] for r in rows]  # in order, the input's columns kept
    expected = logistic.transform(spark.createDataFrame(rows, "x double, y double, c string")).collect()
    assert [r["prediction"] for r in scored] == [r["prediction"] for r in expected]
    for mine, theirs in zip(scored, expected, strict=True):
        assert mine["probability"] == pytest.approx(list(theirs["probability"]), abs=1e-5)
        assert mine["pipeline"] == str(coordinate)
    again = subprocess.run(command, capture_output=True, text=True)  # the output exists: refused, one line
    assert again.returncode == 2 and "exists" in again.stderr and len(again.stderr.splitlines()) == 1
