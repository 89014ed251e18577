"""Spark ML models as immutable Maven artifacts: deploy from PySpark, resolve into a session.

The only part of ``registry`` that imports pyspark::

    from registry.spark import VersionedPipeline, deploy, resolve

    model = VersionedPipeline(stages=[assembler, lr]).fit(train)   # adds a `pipeline` watermark column
    coordinate = deploy(model, "com.acme:churn:1.0", metrics={"auc": 0.91}, training_data=train)
    model.deploy("com.acme:churn:1.0")                              # the same, as a PipelineModel method
    scored = resolve("com.acme:churn:latest.release").transform(df) # `pipeline` says com.acme:churn:1.0.1

Repository and credentials come from the same configuration as the ``registry`` command (``repository=`` and
``settings=`` override it); see :mod:`registry.settings`.

**Models that ``--packages`` put on the classpath.** Started with ``--packages com.acme:churn:latest.release``
and ``--conf spark.jars.ivySettings=FILE`` (:func:`packages_conf` gives both; ``registry ivysettings`` writes
FILE), a session loads the model with ``resolve("com.acme:churn")`` or ``resolve("churn")``: the jar Ivy placed
in ``spark.jars`` is checked against its embedded POM and extracted once into the store's cache (the entry a
resolve from the repository fills for the same bytes).

**Where models are saved and loaded (cluster-safe).**

- On a *local* master (``local``, ``local[N]``) the driver's disk is the executors' disk: deploy saves the model
  to a local temporary directory, and resolve loads the extracted directory in place.
- On any *other* master (YARN, Kubernetes, standalone) executors write and read the model too, so it goes
  through a directory they all reach, given by ``--conf spark.registry.modelDir=hdfs:///tmp/models`` (or
  ``s3a://...``) or ``model_dir=``: deploy saves there and copies the model to the driver (the session's Hadoop
  ``FileSystem.copyToLocalFile``) before packing; resolve copies the extracted model to
  ``MODEL_DIR/com/acme/churn/1.0.3/sha256-DIGEST`` (skipped when already there; content-addressed, so never
  stale) and loads it from there. Without such a directory they raise :class:`~registry.exceptions.ConfigError`.
  Passing ``model_dir=`` on a local master takes the same path (which is how it is tested).
- Over *Spark Connect* the server saves and loads, on its own disk: ``spark.registry.modelDir`` (or
  ``model_dir=``) must be a directory this process and the server both reach under the same path (see
  :mod:`registry.spark.hadoop`); without it deploy and resolve raise :class:`~registry.exceptions.ConfigError`.

**Which session.** ``spark=``, else the calling thread's active session, else the process's default one.
**The runtime contract** (Spark, Scala, Java, Python in the card; a model from a newer Spark refused unless
``allow_spark_mismatch=True``) is described in :mod:`registry.spark.runtime`.
"""

from __future__ import annotations

from pyspark.ml import PipelineModel

from registry.spark.comparison import side_by_side
from registry.spark.deploy import deploy
from registry.spark.monitor import Monitored, monitor
from registry.spark.packages import packages_conf
from registry.spark.resolve import resolve
from registry.spark.runtime import SparkMismatch, SparkVersionWarning
from registry.spark.watermark import NOT_DEPLOYED, VersionedPipeline, Watermark, find_watermark

__all__ = [
    "NOT_DEPLOYED",
    "SparkMismatch",
    "SparkVersionWarning",
    "VersionedPipeline",
    "Watermark",
    "Monitored",
    "deploy",
    "find_watermark",
    "monitor",
    "packages_conf",
    "resolve",
    "side_by_side",
]


# PipelineModel is pyspark's class, so the method is attached rather than declared (mypy cannot see it).
# deploy() takes the model first, so the function itself is the method: model.deploy("com.acme:churn:1.0").
setattr(PipelineModel, "deploy", deploy)  # noqa: B010
