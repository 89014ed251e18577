"""Build the JVM runtime jar: ``javac --release 17`` over the shipped sources, against Spark's own jars.

Only Spark's public Java API is used (and Jackson and SLF4J, which every Spark ships), no Scala compiler, so the
one jar serves Scala 2.12 / Spark 3.5 and Scala 2.13 / Spark 4.x. The jar is packed here, reproducibly (sorted
entries, fixed timestamps), with the POM it is released with embedded under ``META-INF/maven/`` as Ivy expects;
the same sources and version always give the same bytes. It is cached under the cache directory by the digest
of the sources, so it is compiled once per source change. A wheel built where javac and Spark's jars are at hand
ships it compiled (``lib/``, named by that digest, see ``build_support/jvm_build_py.py``): then nothing is compiled.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from registry.coordinates import Coordinate
from registry.exceptions import ConfigError
from registry.pom import jvm_runtime, render_pom

__all__ = ["SHIPPED", "SOURCES", "build", "build_into", "runtime_pom", "source_digest", "spark_jars"]

#: The Java sources (package ``io.github.sparkmodelregistry``).
SOURCES = Path(__file__).parent / "src"
#: Where a wheel ships the compiled runtime (absent in a source checkout, and in a wheel built without javac).
SHIPPED = Path(__file__).parent / "lib"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_RELEASE = "17"


def _sources() -> list[Path]:
    return sorted(SOURCES.rglob("*.java"))


def source_digest() -> str:
    """The SHA-256 of the sources (names and bytes), the runtime's version and the Java release targeted."""
    digest = hashlib.sha256(f"{jvm_runtime()} --release {_RELEASE}\n".encode())
    for source in _sources():
        digest.update(source.relative_to(SOURCES).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def spark_jars() -> Path:
    """The ``jars/`` folder of the Spark to compile against: ``$SPARK_HOME/jars``, else the installed pyspark's.

    :raises ConfigError: neither is there.
    """
    home = os.environ.get("SPARK_HOME")
    candidates = [Path(home) / "jars"] if home else []
    spec = importlib.util.find_spec("pyspark")  # located, not imported
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(location) / "jars" for location in spec.submodule_search_locations]
    for candidate in candidates:
        if any(candidate.glob("spark-mllib_*.jar")):
            return candidate
    raise ConfigError(
        "Building the JVM runtime needs Spark's jars (spark-mllib_*.jar): set SPARK_HOME to a Spark distribution, "
        "or install pyspark (pip install 'spark-model-registry[spark]')."
    )


def _javac() -> str:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "javac") if home and (Path(home) / "bin" / "javac").is_file() else None
    found = found or shutil.which("javac")
    if found is None:
        raise ConfigError(
            "Building the JVM runtime needs javac from a JDK 17 or newer, which is not on PATH (nor in JAVA_HOME): "
            "install one (e.g. apt-get install openjdk-17-jdk-headless) or set JAVA_HOME."
        )
    return found


def runtime_pom(coordinate: Coordinate | None = None) -> bytes:
    """The POM the runtime is released with (no dependencies: Spark provides everything it uses)."""
    coordinate = coordinate or jvm_runtime()
    return render_pom(
        coordinate,
        "The registry's JVM runtime: io.github.sparkmodelregistry.ModelRegistry loads, checks and deploys models "
        "from Scala and Java jobs.",
    )


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.create_system = 3
    info.external_attr = (0o100644 if not name.endswith("/") else 0o40755) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _pack(classes: Path, jar: Path, coordinate: Coordinate) -> None:
    """The jar: manifest, the embedded POM and ``pom.properties``, the classes and their sources, sorted."""
    meta = f"META-INF/maven/{coordinate.group}/{coordinate.artifact}"
    entries: dict[str, bytes] = {
        "META-INF/MANIFEST.MF": (
            "Manifest-Version: 1.0\r\nCreated-By: registry\r\n"
            f"Implementation-Title: {coordinate.artifact}\r\nImplementation-Version: {coordinate.version}\r\n\r\n"
        ).encode(),
        f"{meta}/pom.xml": runtime_pom(coordinate),
        f"{meta}/pom.properties": (
            f"groupId={coordinate.group}\nartifactId={coordinate.artifact}\nversion={coordinate.version}\n"
        ).encode(),
    }
    for path in classes.rglob("*.class"):
        entries[path.relative_to(classes).as_posix()] = path.read_bytes()
    for path in _sources():
        entries[path.relative_to(SOURCES).as_posix()] = path.read_bytes()
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr(_entry("META-INF/"), b"")
        for name in ["META-INF/MANIFEST.MF", *sorted(n for n in entries if n != "META-INF/MANIFEST.MF")]:
            archive.writestr(_entry(name), entries[name])


def _name() -> str:
    coordinate = jvm_runtime()
    return f"{coordinate.artifact}-{coordinate.version}-{source_digest()[:16]}.jar"


def build(cache_dir: Path, *, jars: Path | None = None) -> Path:
    """The runtime jar: the one the distribution ships for these sources, else compiled and packed into
    ``cache_dir/jvm/`` unless it is there already; its path.

    :param jars: the Spark ``jars/`` folder to compile against (never the shipped jar then); default
        :func:`spark_jars`.
    :raises ConfigError: no javac, no Spark jars, or the sources do not compile (javac's errors quoted).
    """
    shipped = SHIPPED / _name()
    if jars is None and shipped.is_file():
        return shipped
    return build_into(cache_dir / "jvm", jars=jars)


def build_into(directory: Path, *, jars: Path | None = None) -> Path:
    """The runtime jar compiled and packed into ``directory`` (named by the sources' digest) unless it is there
    already; its path. The distribution's build calls it to ship the jar. :raises ConfigError: as :func:`build`."""
    coordinate = jvm_runtime()
    target = directory / _name()
    if target.is_file():
        return target
    javac = _javac()
    classpath = str((jars or spark_jars()) / "*")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="registry-jvm-build-", dir=target.parent) as scratch:
        classes = Path(scratch) / "classes"
        command = [javac, "--release", _RELEASE, "-nowarn", "-encoding", "UTF-8", "-cp", classpath, "-d", str(classes)]
        done = subprocess.run([*command, *map(str, _sources())], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ConfigError(f"javac could not compile the JVM runtime:\n{(done.stderr or done.stdout)[-3000:]}")
        partial = Path(scratch) / target.name
        _pack(classes, partial, coordinate)
        os.replace(partial, target)
    return target
