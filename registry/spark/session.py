"""Which SparkSession a call uses, and whether it is a Spark Connect client.

``SparkSession.getActiveSession()`` is per thread (in pyspark 4, classic and Connect alike): a session built in
the main thread is not *active* in a worker thread. So a call without ``spark=`` takes the thread's active
session, else the process's default one (the first session the builder created, which ``SparkSession.active()``
returns in pyspark 3.5 and 4.x, classic and Connect). It never creates a session.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pyspark
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from registry.exceptions import ConfigError
from registry.spark.runtime import major_minor

__all__ = ["activated", "active_session", "is_connect", "require_ml_on_connect"]

#: The first Spark whose ``pyspark.ml`` estimators, models and their persistence run over Spark Connect.
_ML_ON_CONNECT = (4, 0)


def active_session(spark: SparkSession | None = None) -> SparkSession:
    """``spark``, else this thread's active session, else the process's default one; a clear error for none."""
    if spark is not None:
        return spark
    try:
        session = SparkSession.active()  # this thread's active session, else the default; never creates one
    except PySparkException:  # NO_ACTIVE_OR_DEFAULT_SESSION
        session = None
    if session is None:
        raise ConfigError(
            "No active SparkSession: start one (SparkSession.builder.getOrCreate(), or .remote('sc://...') for "
            "Spark Connect) or pass spark=."
        )
    return session


def is_connect(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect client session (no JVM in this process to reach)."""
    connect = sys.modules.get("pyspark.sql.connect.session")  # a Connect session exists only once this is loaded
    return connect is not None and isinstance(spark, connect.SparkSession)


@contextmanager
def activated(spark: SparkSession) -> Iterator[SparkSession]:
    """``spark`` as this thread's active session while the block runs, then whatever was active before.

    pyspark.ml over Spark Connect saves and loads with ``SparkSession.getActiveSession()`` (per thread), so a
    worker thread that never built a session would fail inside pyspark. A classic session needs nothing: its
    ``pyspark.ml`` falls back to the default session itself.
    """
    if not is_connect(spark):
        yield spark
        return
    local = cast(Any, type(spark))._active_session  # pyspark's thread-local; no public setter exists
    previous = getattr(local, "session", None)
    local.session = spark
    try:
        yield spark
    finally:
        local.session = previous


def require_ml_on_connect(spark: SparkSession) -> None:
    """Refuse a Connect session whose client or server cannot run ``pyspark.ml`` (both need Spark 4.0+)."""
    if not is_connect(spark):
        return
    client, server = pyspark.__version__, spark.version
    if any(release is not None and release < _ML_ON_CONNECT for release in map(major_minor, (client, server))):
        raise ConfigError(
            f"Spark ML over Spark Connect needs pyspark 4.0 or newer on both sides; this client is pyspark {client} "
            f"and the server runs Spark {server}. In pyspark 3.5, Connect has no pyspark.ml (only the separate "
            "pyspark.ml.connect subset, whose models are not Spark ML PipelineModels): use a classic session "
            "(SparkSession.builder.master(...)) or upgrade both to 4.0+."
        )
