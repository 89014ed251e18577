"""The distribution's build of the JVM runtime: setuptools' ``build_py``, then the runtime jar compiled with the
JDK's ``javac`` against Spark's jars into the wheel (``registry/jvm/lib/``), where ``registry.jvm.build`` finds it.

Compiling needs javac and Spark's jars: ``SPARK_HOME``, or pyspark in the build environment (build with
``pip wheel --no-build-isolation .`` in an environment that has it, as CI does). Without them the wheel goes
without the jar, with a warning, and the runtime is compiled at first use as in a source checkout;
``REGISTRY_REQUIRE_JVM_JAR=1`` makes that an error instead. An editable install compiles nothing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parents[1]


def _build_module() -> ModuleType:
    """``registry/jvm/build.py`` of this source tree, loaded without ``registry.jvm`` (whose package imports the
    whole registry and its dependencies): it needs only jinja2 (for the POM) beside the standard library."""
    sys.path.insert(0, str(ROOT))
    try:
        spec = importlib.util.spec_from_file_location("_registry_jvm_build", ROOT / "registry/jvm/build.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT))


class BuildPy(build_py):
    """``build_py`` that also ships the compiled JVM runtime."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        module = _build_module()
        try:
            jar = module.build_into(Path(self.build_lib) / "registry" / "jvm" / "lib")
        except Exception as exc:  # a ConfigError of that module: no javac, no Spark jars, sources not compiling
            if os.environ.get("REGISTRY_REQUIRE_JVM_JAR") == "1":
                raise
            self.warn(f"the wheel goes without the JVM runtime jar (it is compiled at first use instead): {exc}")
            return
        self.announce(f"shipping the JVM runtime {jar.name}", level=2)
