"""Moving saved models between this process's disk and the place where Spark saves and loads them.

On a local master the driver is the only JVM, so models are saved to and loaded from local directories. On any
other master, executors read and write the model too, so it must live where they all see it: the directory named
by ``spark.registry.modelDir`` (or ``model_dir=``), e.g. ``hdfs:///models`` or ``s3a://bucket/models``, reached
through the session's Hadoop ``FileSystem``.

**Spark Connect.** The server saves and loads models on *its* file system, and this process (the client) has no
JVM to reach it with. Connect offers no way to download files, and its only upload (``copyFromLocalToFs``, one
file at a time, a developer API) refuses the server's local disk except under a test-only setting. So over
Connect, ``spark.registry.modelDir`` must name a directory that this process and the server both reach *under the
same path* (an NFS or other shared mount, a Databricks Unity Catalog volume ``/Volumes/...``, or one machine's
disk): the server saves into it and this process copies out of it with plain file operations; this process copies
a resolved model into it and the server loads it from there. Without it (or when this process cannot see it) the
call fails with :class:`~registry.exceptions.ConfigError` saying what to set, before anything is sent to Spark.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pyspark.sql import SparkSession

from registry.exceptions import ConfigError
from registry.spark.session import is_connect

__all__ = [
    "MODEL_DIR_CONF",
    "copy_from_cluster",
    "copy_to_cluster",
    "delete",
    "is_local",
    "local_path",
    "model_dir",
    "staging_location",
]

#: The session conf naming the shared directory models are staged in on non-local masters.
MODEL_DIR_CONF = "spark.registry.modelDir"


def is_local(spark: SparkSession) -> bool:
    """Whether the session runs on a local master (driver and executors share one disk and one JVM); never over
    Connect, nor ``local-cluster[...]``, whose executors are separate JVMs as on a cluster (and which tests the
    cluster's way)."""
    if is_connect(spark):
        return False  # the server may run on a local master, but not on this process's disk
    master = str(spark.sparkContext.master)
    return master.startswith("local") and not master.startswith("local-cluster")


def local_path(location: str) -> Path | None:
    """``location`` as a path on this machine (a ``file:`` URI or an absolute path), else ``None``."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if not parts.scheme and location.startswith("/"):
        return Path(location)
    return None


def _connect_model_dir(chosen: str | None, why: str) -> str:
    """The shared directory of a Spark Connect session (see the module docstring)."""
    shared = "the same directory under the same path (a shared mount, a Databricks volume /Volumes/...)"
    if not chosen:
        raise ConfigError(
            f"This is a Spark Connect session: the server would {why} on its own disk, which this process cannot "
            f"be assumed to see. Name a directory that this process and the server both reach as {shared}: "
            f"spark.conf.set('{MODEL_DIR_CONF}', 'file:///shared/models') in the session (or --conf "
            f"{MODEL_DIR_CONF}=... on the server), or pass model_dir=."
        )
    local = local_path(chosen)
    if local is None or not local.is_dir():
        raise ConfigError(
            f"{MODEL_DIR_CONF} is {chosen!r}, which is not a directory on this machine. In a Spark Connect session "
            f"it must be {shared}, because Connect cannot move a saved model between this process and the server: "
            "create it, or mount it here under the same path."
        )
    return chosen


def model_dir(spark: SparkSession, given: str | None, *, why: str) -> str | None:
    """The staging directory: ``given``, else the session conf; ``None`` on a local master without either.

    :raises ConfigError: a non-local master and no directory; over Spark Connect, no directory or one that this
        process cannot see.
    """
    chosen = given or spark.conf.get(MODEL_DIR_CONF, None)
    if is_connect(spark):
        return _connect_model_dir(str(chosen) if chosen else None, why).rstrip("/")
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


def _shared(location: str) -> Path:
    """The local path of a location under the shared directory of a Spark Connect session."""
    local = local_path(location)
    assert local is not None  # model_dir() checked the directory it is under
    return local


def copy_from_cluster(spark: SparkSession, source: str, destination: Path) -> None:
    """Copy the directory ``source`` (any Hadoop file system) to the new local directory ``destination``."""
    if is_connect(spark):
        saved = _shared(source)
        if not saved.is_dir():
            raise ConfigError(
                f"The Spark Connect server saved the model to {source}, but this process does not see it there: "
                f"{MODEL_DIR_CONF} must name one directory that both reach under the same path."
            )
        shutil.copytree(saved, destination)
        return
    fs, path = _path(spark, source)
    fs.copyToLocalFile(False, path, _local(spark, destination), False)


def copy_to_cluster(spark: SparkSession, source: Path, destination: str) -> str:
    """Copy the local directory ``source`` to ``destination`` unless that exists; returns ``destination``.

    The copy goes to a sibling first and is renamed into place, so a directory at ``destination`` is complete:
    it is reused as it is (``destination`` names immutable content, e.g. by its checksum).
    """
    if is_connect(spark):
        _copy_shared(source, _shared(destination))
        return destination
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


def _copy_shared(source: Path, target: Path) -> None:
    """:func:`copy_to_cluster` into the shared directory of a Spark Connect session, with file operations."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f"{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        shutil.copytree(source, staged)
        try:
            os.rename(staged, target)
        except OSError:
            if not target.is_dir():  # not another resolver that renamed its copy into place first
                raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def delete(spark: SparkSession, location: str) -> None:
    """Remove a directory tree on its file system (missing is fine)."""
    if is_connect(spark):
        shutil.rmtree(_shared(location), ignore_errors=True)
        return
    fs, path = _path(spark, location)
    fs.delete(path, True)


def staging_location(directory: str, purpose: str) -> str:
    """A new, unique location under ``directory``."""
    return f"{directory}/{purpose}-{uuid.uuid4().hex}"
