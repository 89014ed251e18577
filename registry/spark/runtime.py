"""The runtime contract: the Spark, Scala, Java and Python a model was saved with, checked when it is loaded.

A deploy records them in the card's ``tools`` (``{"registry", "python", "spark", "scala", "java"}``), ``null``
where the session cannot tell. They are asked of the session in SQL, which works the same in a classic session
and over Spark Connect (where this process has no JVM to ask): ``spark.version``, and ``java_method`` reading the
server JVM's ``java.version`` and Scala's ``versionNumberString``. A server that forbids reflection
(``spark.sql.reflect.allowList``, or a platform that blocks ``java_method``) records ``null`` for those two.

What is checked, following Spark ML's persistence policy (a model saved by Spark ``x.y`` loads in every later
minor and patch of that major; across majors only "best effort"; an *older* Spark loading a *newer* model is not
promised at all):

- a model saved by a newer Spark ``major.minor`` than the session's is refused with :class:`SparkMismatch`, which
  names both versions and the override (``allow_spark_mismatch=True``, ``--allow-spark-mismatch``);
- a model saved by an older Spark *major* loads, with a :class:`SparkVersionWarning`.

Scala, Java and Python are recorded for the reader, not checked: Spark ML persists models as JSON and Parquet.
"""

from __future__ import annotations

import re
import warnings
import weakref
from collections.abc import Mapping
from typing import Any

from packaging.version import InvalidVersion, Version
from pyspark.sql import SparkSession

from registry.exceptions import ConfigError

__all__ = ["SparkMismatch", "SparkVersionWarning", "check_spark_version", "major_minor", "session_runtime"]

_LEADING = re.compile(r"(\d+)\.(\d+)")
_VERSIONS_SQL = (
    "SELECT java_method('java.lang.System', 'getProperty', 'java.version') AS java, "
    "java_method('scala.util.Properties', 'versionNumberString') AS scala"
)


#: What each session's JVM said (it cannot change while the session lives): one query per session, not per deploy.
_ASKED: weakref.WeakKeyDictionary[SparkSession, dict[str, str | None]] = weakref.WeakKeyDictionary()


class SparkMismatch(ConfigError):
    """The model was saved by a newer Spark than the session's."""


class SparkVersionWarning(UserWarning):
    """The model was saved by an older major version of Spark than the session's."""


def major_minor(version: str) -> tuple[int, int] | None:
    """``(major, minor)`` of a Spark version (``4.0.1``, ``4.0.0-preview2``, ``3.5.1-SNAPSHOT``); ``None`` if none."""
    try:
        release = Version(version).release
    except InvalidVersion:  # e.g. "3.5.1-SNAPSHOT", "3.5.x-databricks": read the leading numbers
        match = _LEADING.match(version.strip())
        return (int(match[1]), int(match[2])) if match else None
    return (release[0], release[1] if len(release) > 1 else 0)


def session_runtime(spark: SparkSession) -> dict[str, str | None]:
    """``{"spark", "scala", "java"}`` of the session's (driver or Connect server) JVM; ``None`` where unknown."""
    known = _ASKED.get(spark)
    if known is not None:
        return dict(known)
    try:
        row = spark.sql(_VERSIONS_SQL).first()
    except Exception:  # reflection refused or unsupported, however the session says it: recorded as unknown
        row = None
    runtime = {
        "spark": spark.version,
        "scala": str(row["scala"]) if row is not None and row["scala"] else None,
        "java": str(row["java"]) if row is not None and row["java"] else None,
    }
    _ASKED[spark] = runtime
    return dict(runtime)


def check_spark_version(
    tools: Mapping[str, Any] | None, spark: SparkSession, what: str, *, allow_spark_mismatch: bool = False
) -> None:
    """Refuse (or warn about) loading a model saved by the Spark in ``tools`` into ``spark``; see the module doc.

    :param what: the model, for messages (its coordinate).
    :raises SparkMismatch: saved by a newer Spark ``major.minor`` and ``allow_spark_mismatch`` is false.
    """
    saved = (tools or {}).get("spark")
    saved_at = major_minor(saved) if isinstance(saved, str) else None
    running_at = major_minor(spark.version)
    if saved_at is None or running_at is None:
        return  # a model deployed without Spark, or versions we cannot read: nothing to compare
    if saved_at > running_at:
        message = (
            f"{what} was saved by Spark {saved}, newer than this session's Spark {spark.version}; Spark ML does not "
            f"promise that an older Spark loads a newer model."
        )
        if not allow_spark_mismatch:
            raise SparkMismatch(
                f"{message} Load it in Spark {saved_at[0]}.{saved_at[1]} or newer, or pass allow_spark_mismatch=True "
                "(registry resolve --allow-spark-mismatch) to load it anyway."
            )
        warnings.warn(f"{message} Loading it anyway (allow_spark_mismatch=True).", SparkVersionWarning, stacklevel=3)
    elif saved_at[0] < running_at[0]:
        warnings.warn(
            f"{what} was saved by Spark {saved}, an older major version than this session's Spark {spark.version}; "
            "Spark ML loads models across major versions on a best-effort basis only: check its predictions.",
            SparkVersionWarning,
            stacklevel=3,
        )
