"""Resolve into a session: from the repository, from the classpath (--packages), through a shared model_dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession

from registry.archive import pack
from registry.checksums import file_digest
from registry.coordinates import Coordinate
from registry.exceptions import ArtifactNotFound, ConfigError, IntegrityError, InvalidCoordinate
from registry.repository.local import LocalRepository
from registry.resolve import resolve as resolve_dir
from registry.settings import Settings
from registry.spark import deploy, resolve
from registry.spark.classpath import extract_checked, find_model_jar

pytestmark = pytest.mark.spark


def _jar(directory: Path, model_dir: Path, coordinate: str, name: str | None = None) -> Path:
    parsed = Coordinate.parse(coordinate)
    directory.mkdir(parents=True, exist_ok=True)
    jar = directory / (name or f"{parsed.group}_{parsed.artifact}-{parsed.version}.jar")
    pack(model_dir, jar, parsed, b"<project/>", b"{}")
    return jar


def test_cluster_safe_load_copies_once(
    fitted: PipelineModel, train: DataFrame, repo: LocalRepository, tmp_path: Path
) -> None:
    coordinate = deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    shared = tmp_path / "shared"
    model = resolve("com.acme:churn:1.0", repository=repo, model_dir=shared.as_uri())
    [copy] = (shared / "com" / "acme" / "churn").glob("1.0.0/sha256-*")
    # hex of the jar's sha256, cut to 40
    assert len(copy.name) == len("sha256-") + 40
    assert model.transform(train).select("pipeline").first()[0] == str(coordinate)
    marker = copy / "metadata" / "_SUCCESS"
    before = marker.stat().st_mtime_ns
    again = resolve("com.acme:churn:1.0.0", repository=repo, model_dir=shared.as_uri())
    assert marker.stat().st_mtime_ns == before  # reused, not copied again
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no leftover staging copies
    assert again.transform(train).select("pipeline").first()[0] == str(coordinate)


def test_non_local_master_needs_a_model_dir(spark: SparkSession, monkeypatch: pytest.MonkeyPatch) -> None:
    from registry.spark import hadoop

    monkeypatch.setattr(hadoop, "is_local", lambda session: False)
    with pytest.raises(ConfigError, match=r"spark\.registry\.modelDir"):
        hadoop.model_dir(spark, None, why="read the model")
    spark.conf.set(hadoop.MODEL_DIR_CONF, "hdfs:///models/")
    try:
        assert hadoop.model_dir(spark, None, why="read the model") == "hdfs:///models"
    finally:
        spark.conf.unset(hadoop.MODEL_DIR_CONF)


def test_classpath_jar_by_group_and_artifact(fitted: PipelineModel, repo: LocalRepository, tmp_path: Path) -> None:
    coordinate = deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    resolved = resolve_dir(str(coordinate), repository=repo)
    ivy = tmp_path / "ivy" / "jars"
    jar = _jar(ivy, resolved.path, "com.acme:churn:1.0.0")
    other = _jar(ivy, resolved.path, "org.other:churn-eu:2.0.0")
    found = find_model_jar([other, jar], "com.acme:churn")
    assert (found.coordinate, found.jar) == (coordinate, jar)
    assert find_model_jar([other, jar], "churn").coordinate == coordinate
    assert str(find_model_jar([other, jar], "churn-eu").coordinate) == "org.other:churn-eu:2.0.0"


def test_classpath_ambiguous_and_missing(fitted: PipelineModel, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    fitted.write().save(model_dir.as_uri())
    jars = [_jar(tmp_path, model_dir, "com.acme:churn:1.0.0"), _jar(tmp_path, model_dir, "org.other:churn:1.0.3")]
    with pytest.raises(InvalidCoordinate, match=r"com\.acme:churn:1\.0\.0, org\.other:churn:1\.0\.3"):
        find_model_jar(jars, "churn")
    assert str(find_model_jar(jars, "org.other:churn").coordinate) == "org.other:churn:1.0.3"
    with pytest.raises(ArtifactNotFound, match=r"--packages com\.acme:fraud:latest\.release.*spark\.jars\.ivySettings"):
        find_model_jar(jars, "com.acme:fraud")
    with pytest.raises(InvalidCoordinate):
        find_model_jar(jars, "Not An Artifact")


def test_classpath_jar_must_embed_its_own_pom(fitted: PipelineModel, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    fitted.write().save(model_dir.as_uri())
    liar = _jar(tmp_path, model_dir, "com.acme:churn:1.0.0", name="com.acme_churn-1.0.7.jar")
    with pytest.raises(IntegrityError, match=r"1\.0\.0"):
        find_model_jar([liar], "churn")


def test_classpath_extraction_is_cached(fitted: PipelineModel, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    fitted.write().save(model_dir.as_uri())
    jar = _jar(tmp_path / "jars", model_dir, "com.acme:churn:1.0.0")
    found = find_model_jar([jar], "churn")
    (tmp_path / "m2").mkdir()
    entry = extract_checked(found, str(tmp_path / "m2"), Settings.load(), tmp_path / "cache")
    # the store's entry, as a resolve from a repository names it
    assert entry.name == f"sha512-{file_digest(jar, 'sha512')[:40]}" and entry.parent.parts[-4:] == (
        "com",
        "acme",
        "churn",
        "1.0.0",
    )
    stamp = (entry / "model" / "metadata").stat().st_mtime_ns
    again = extract_checked(found, str(tmp_path / "m2"), Settings.load(), tmp_path / "cache")
    assert again == entry and (entry / "model" / "metadata").stat().st_mtime_ns == stamp
    assert PipelineModel.load((entry / "model").as_uri()).stages[-1].uid == fitted.stages[-1].uid


def test_resolve_without_packages_says_how_to_add_them(spark: SparkSession) -> None:
    with pytest.raises(ArtifactNotFound, match=r"not on this session's classpath.*--packages com\.acme:churn:latest"):
        resolve("com.acme:churn", spark=spark)
