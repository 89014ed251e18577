"""Resolve a model into a Spark session: ``resolve("com.acme:churn:latest.release")`` gives a ``PipelineModel``."""

from __future__ import annotations

from pathlib import Path

from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from registry.checksums import file_digest
from registry.coordinates import Coordinate
from registry.repository.base import Repository
from registry.resolve import resolve as resolve_dir
from registry.settings import Settings
from registry.spark import hadoop
from registry.spark.classpath import check_signature, extract_cached, find_on_classpath
from registry.spark.session import active_session

__all__ = ["load_model", "resolve"]


def load_model(
    spark: SparkSession,
    local_dir: Path,
    coordinate: Coordinate,
    jar: Path,
    *,
    sha256: str | None = None,
    model_dir: str | None = None,
) -> PipelineModel:
    """Load ``local_dir``, extracted from ``jar``, where the session's executors can read it.

    On a local master without ``model_dir``, from ``local_dir`` itself. Otherwise the directory is first copied
    to ``MODEL_DIR/com/acme/churn/1.0.3/sha256-DIGEST`` (the repository layout) on the cluster's file system,
    unless it is there already.
    """
    shared = hadoop.model_dir(spark, model_dir, why="read the model")
    if shared is None:
        return PipelineModel.load(local_dir.absolute().as_uri())
    digest = sha256 or file_digest(jar, "sha256")
    location = f"{shared}/{coordinate.directory}/sha256-{digest[:40]}"
    return PipelineModel.load(hadoop.copy_to_cluster(spark, local_dir, location))


def resolve(
    spec: str | Coordinate,
    *,
    spark: SparkSession | None = None,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    model_dir: str | None = None,
    cache_dir: Path | None = None,
) -> PipelineModel:
    """Load a released model into the session.

    :param spec: ``GROUP:ARTIFACT:SELECTOR`` (any selector: ``1.0.3``, ``1.0``, ``1.0.+``, ``latest.release``,
        ``[1.0,2.0)``) to resolve from the repository; or ``ARTIFACT`` / ``GROUP:ARTIFACT`` without a version to
        load the model that Spark's ``--packages`` put on the classpath (matched on group and artifact, or on the
        artifact alone when no group is given).
    :param spark: the session; default the active one.
    :param repository: an open repository, or a configured name, URL or path; ``None`` uses the configured
        default, as the ``registry`` command does.
    :param model_dir: a directory every executor reads (``hdfs:///tmp/models``), where the model is copied before
        it is loaded. Default: ``spark.registry.modelDir``; not needed on a local master.
    :param cache_dir: where extracted models are kept on the driver; default from settings.
    :returns: the loaded ``PipelineModel``.
    :raises ArtifactNotFound: no matching version, or (without a version) no such jar on the classpath; the
        message says how to add it.
    :raises InvalidCoordinate: an artifact given without a group matches several jars.
    :raises IntegrityError: the jar does not match its checksum or embeds another coordinate's POM.
    :raises SignatureError: the jar's signature is refused under the repository's policy; for a jar on the
        classpath, its ``.asc`` is read from ``repository`` (see :mod:`registry.spark.classpath`).
    :raises ConfigError: a non-local master and no ``model_dir``.
    """
    session = active_session(spark)
    if isinstance(spec, str) and spec.count(":") < 2:
        found = find_on_classpath(session, spec)
        settings = settings or Settings.load()
        cache = cache_dir or settings.cache_dir
        check_signature(found, repository, settings, cache)
        local, sha256 = extract_cached(found.jar, cache)
        return load_model(session, local, found.coordinate, found.jar, sha256=sha256, model_dir=model_dir)
    resolved = resolve_dir(spec, repository=repository, settings=settings, cache_dir=cache_dir)
    return load_model(session, resolved.path, resolved.coordinate, resolved.jar, model_dir=model_dir)
