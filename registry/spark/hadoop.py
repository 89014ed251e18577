"""Moving saved models between the driver's local disk and the cluster's file system (Hadoop ``FileSystem``).

On a local master the driver is the only JVM, so models are saved to and loaded from local directories. On any
other master, executors read and write the model too, so it must live where they all see it: the directory named
by ``spark.registry.modelDir`` (or ``model_dir=``), e.g. ``hdfs:///models`` or ``s3a://bucket/models``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from registry.exceptions import ConfigError

__all__ = [
    "MODEL_DIR_CONF",
    "copy_from_cluster",
    "copy_to_cluster",
    "delete",
    "is_local",
    "model_dir",
    "staging_location",
]

#: The session conf naming the shared directory models are staged in on non-local masters.
MODEL_DIR_CONF = "spark.registry.modelDir"


def is_local(spark: SparkSession) -> bool:
    """Whether the session runs on a local master (driver and executors share one disk)."""
    return str(spark.sparkContext.master).startswith("local")


def model_dir(spark: SparkSession, given: str | None, *, why: str) -> str | None:
    """The staging directory: ``given``, else the session conf; ``None`` on a local master without either.

    :raises ConfigError: a non-local master and no directory.
    """
    chosen = given or spark.conf.get(MODEL_DIR_CONF, None)
    if chosen:
        return str(chosen).rstrip("/")
    if is_local(spark):
        return None
    raise ConfigError(
        f"The session runs on {spark.sparkContext.master}, so executors cannot {why} on the driver's disk. Name a "
        f"directory they all reach: --conf {MODEL_DIR_CONF}=hdfs:///tmp/models (or s3a://..., abfss://...), "
        "or pass model_dir=."
    )


def _path(spark: SparkSession, location: str) -> tuple[Any, Any]:
    """``(FileSystem, Path)`` for a location, using the session's Hadoop configuration."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(location)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def _local(spark: SparkSession, directory: Path) -> Any:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    return jvm.org.apache.hadoop.fs.Path(directory.absolute().as_uri())


def copy_from_cluster(spark: SparkSession, source: str, destination: Path) -> None:
    """Copy the directory ``source`` (any Hadoop file system) to the new local directory ``destination``."""
    fs, path = _path(spark, source)
    fs.copyToLocalFile(False, path, _local(spark, destination), False)


def copy_to_cluster(spark: SparkSession, source: Path, destination: str) -> str:
    """Copy the local directory ``source`` to ``destination`` unless that exists; returns ``destination``.

    The copy goes to a sibling first and is renamed into place, so a directory at ``destination`` is complete:
    it is reused as it is (``destination`` names immutable content, e.g. by its checksum).
    """
    fs, target = _path(spark, destination)
    if fs.exists(target):
        return destination
    staging = f"{destination}.{uuid.uuid4().hex[:12]}.tmp"
    _, staged = _path(spark, staging)
    fs.mkdirs(target.getParent())
    try:
        fs.copyFromLocalFile(False, True, _local(spark, source), staged)
        if not fs.rename(staged, target) and not fs.exists(target):
            raise ConfigError(f"Cannot move the model into {destination}; check that the directory is writable.")
    finally:
        if fs.exists(staged):  # another resolver renamed its copy into place first
            fs.delete(staged, True)
    return destination


def delete(spark: SparkSession, location: str) -> None:
    """Remove a directory tree on its file system (missing is fine)."""
    fs, path = _path(spark, location)
    fs.delete(path, True)


def staging_location(directory: str, purpose: str) -> str:
    """A new, unique location under ``directory``."""
    return f"{directory}/{purpose}-{uuid.uuid4().hex}"
