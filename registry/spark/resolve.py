"""Resolve a model into a Spark session: ``resolve("com.acme:churn:latest.release")`` gives a ``PipelineModel``."""

from __future__ import annotations

from pathlib import Path

from pyspark.errors import PySparkException
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from registry.archive import CARD_ENTRY, read_entry
from registry.checksums import file_digest
from registry.coordinates import Coordinate
from registry.exceptions import ConfigError, InvalidInput, InvalidModel
from registry.modelcard import ModelCard
from registry.repository.base import Repository
from registry.resolve import Resolved
from registry.resolve import resolve as resolve_dir
from registry.settings import Settings
from registry.spark import hadoop
from registry.spark.classpath import extract_checked, find_on_classpath
from registry.spark.runtime import check_spark_version
from registry.spark.session import activated, active_session, is_connect, require_ml_on_connect
from registry.spark.watermark import ReleasedPipelineModel

__all__ = ["load_model", "resolve"]


def load_model(
    spark: SparkSession, model: Resolved, *, sha256: str | None = None, model_dir: str | None = None
) -> PipelineModel:
    """Load ``model.path``, extracted from ``model.jar`` (whose ``sha256`` may be known), where the session's
    executors can read it, as a :class:`~registry.spark.watermark.ReleasedPipelineModel` (a ``PipelineModel``).

    On a local master without ``model_dir``, from ``model.path`` itself. Otherwise the directory is first copied
    to ``MODEL_DIR/com/acme/churn/1.0.3/sha256-DIGEST`` (the repository layout) on the cluster's file system,
    unless it is there already.
    """
    local_dir, coordinate, jar = model.path, model.coordinate, model.jar
    shared = hadoop.model_dir(spark, model_dir, why="read the model")
    if shared is None:
        return ReleasedPipelineModel.of(_load_pipeline(local_dir.absolute().as_uri(), coordinate), coordinate)
    digest = sha256 or file_digest(jar, "sha256")
    location = f"{shared}/{coordinate.directory}/sha256-{digest[:40]}"
    hadoop.copy_to_cluster(spark, local_dir, location)
    if not is_connect(spark):
        return ReleasedPipelineModel.of(_load_pipeline(location, coordinate), coordinate)
    try:
        with activated(spark):  # pyspark.ml over Connect loads with this thread's active session
            return ReleasedPipelineModel.of(PipelineModel.load(location), coordinate)
    except PySparkException as exc:  # the server cannot read what this process wrote: say so, not gRPC's trace
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"The Spark Connect server cannot load {coordinate} from {location}, where this process put it: {first}. "
            f"{hadoop.MODEL_DIR_CONF} must name one directory that this process and the server both reach under "
            "the same path."
        ) from exc


def _jar_card(jar: Path) -> ModelCard | None:
    """The model card a jar embeds, or ``None`` (a jar deployed without one, or an unreadable card)."""
    data = read_entry(jar, CARD_ENTRY)
    try:
        return ModelCard.from_json(data) if data is not None else None
    except (InvalidInput, ValueError, TypeError):
        return None


def _load_pipeline(location: str, coordinate: Coordinate) -> PipelineModel:
    """``PipelineModel.load``, with a model Spark cannot read as one (deployed from some other directory, or saved
    by an incompatible Spark) one clear error instead of Spark's own (a KeyError, a Py4J trace...)."""
    try:
        return PipelineModel.load(location)
    except Exception as exc:  # Spark's readers raise anything (KeyError, Py4J...): all mean the same to the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise InvalidModel(
            f"{coordinate} is not a Spark PipelineModel this session can load ({type(exc).__name__}: {first}). "
            "Check that it was deployed with registry.spark.deploy, and by a Spark this session can read."
        ) from exc


def resolve(
    spec: str | Coordinate,
    *,
    spark: SparkSession | None = None,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    model_dir: str | None = None,
    cache_dir: Path | None = None,
    allow_spark_mismatch: bool = False,
) -> PipelineModel:
    """Load a released model into the session.

    :param spec: ``GROUP:ARTIFACT:SELECTOR`` (any selector: ``1.0.3``, ``1.0``, ``1.0.+``, ``latest.release``,
        ``[1.0,2.0)``) to resolve from the repository; or ``ARTIFACT`` / ``GROUP:ARTIFACT`` without a version to
        load the model that Spark's ``--packages`` put on the classpath (matched on group and artifact, or on the
        artifact alone when no group is given).
    :param spark: the session; default this thread's active one, else the process's default one.
    :param repository: an open repository, or a configured name, URL or path; ``None`` uses the configured
        default, as the ``registry`` command does.
    :param model_dir: a directory every executor reads (``hdfs:///tmp/models``), where the model is copied before
        it is loaded. Default: ``spark.registry.modelDir``; not needed on a local master. Over Spark Connect, a
        directory this process and the server both reach under the same path (see :mod:`registry.spark.hadoop`).
    :param cache_dir: where extracted models are kept on the driver; default from settings.
    :param allow_spark_mismatch: load a model saved by a newer Spark (``major.minor``) than the session's, with a
        warning, instead of refusing it (see :mod:`registry.spark.runtime`).
    :returns: the loaded ``PipelineModel``.
    :raises ArtifactNotFound: no matching version, or (without a version) no such jar on the classpath; the
        message says how to add it.
    :raises InvalidCoordinate: an artifact given without a group matches several jars.
    :raises IntegrityError: the jar does not match its checksum or embeds another coordinate's POM.
    :raises SignatureError: the jar's signature is refused under the repository's policy; for a jar on the
        classpath, its ``.asc`` is read from ``repository`` (see :mod:`registry.spark.classpath`).
    :raises SparkMismatch: the model was saved by a newer Spark than the session's (a ``ConfigError``).
    :raises ConfigError: a non-local master, or a Spark Connect session, and no ``model_dir``; no session.
    """
    session = active_session(spark)
    require_ml_on_connect(session)
    if is_connect(session):  # its shared directory is checked before anything is downloaded
        hadoop.model_dir(session, model_dir, why="read the model")
    if isinstance(spec, str) and spec.count(":") < 2:
        found = find_on_classpath(session, spec)
        settings = settings or Settings.load()
        entry = extract_checked(found, repository, settings, cache_dir or settings.cache_dir)
        card = _jar_card(found.jar)
        tools = card.tools if card is not None else None
        check_spark_version(tools, session, str(found.coordinate), allow_spark_mismatch=allow_spark_mismatch)
        jar = entry / found.coordinate.file_name("jar")
        return load_model(session, Resolved(found.coordinate, entry / "model", jar, card), model_dir=model_dir)
    resolved = resolve_dir(spec, repository=repository, settings=settings, cache_dir=cache_dir)
    tools = resolved.card.tools if resolved.card is not None else None
    check_spark_version(tools, session, str(resolved.coordinate), allow_spark_mismatch=allow_spark_mismatch)
    return load_model(session, resolved, model_dir=model_dir)
