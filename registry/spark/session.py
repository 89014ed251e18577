"""Which SparkSession a call uses."""

from __future__ import annotations

from pyspark.sql import SparkSession

from registry.exceptions import ConfigError

__all__ = ["active_session"]


def active_session(spark: SparkSession | None = None) -> SparkSession:
    """``spark``, else the active session; a clear error when there is none."""
    session = spark or SparkSession.getActiveSession()
    if session is None:
        raise ConfigError("No active SparkSession: start one (SparkSession.builder.getOrCreate()) or pass spark=.")
    return session
