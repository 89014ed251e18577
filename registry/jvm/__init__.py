"""The registry's JVM runtime: ``io.github.sparkmodelregistry.ModelRegistry`` for Scala and Java jobs.

The Java sources ship in this package (``src/``); :func:`build` compiles them with the JDK's ``javac`` against
Spark's jars into ``registry-jvm-VERSION.jar`` (cached by the digest of the sources), and :func:`publish` releases
that jar as ``io.github.spark-model-registry:registry-jvm:VERSION`` (``registry jvm build``, ``registry jvm
publish -r REPO``). Model POMs depend on it when their repository holds it (see :mod:`registry.deploy`).
"""

from __future__ import annotations

from registry.jvm.build import build, source_digest, spark_jars
from registry.jvm.publish import publish

__all__ = ["build", "publish", "source_digest", "spark_jars"]
