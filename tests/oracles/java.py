"""Ask Maven's and Apache Ivy's own classes about versions; one JVM per batch of questions.

The Java sides are the single-file programs next to this module, run by the Java 17 source launcher, so
nothing is built or committed. When Java or a jar is missing the calling test is skipped, except under CI
(the ``CI`` environment variable is set), where it fails: CI must never silently skip an oracle.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from realtools import missing

__all__ = [
    "IvyAnswer",
    "IvyAnswers",
    "MavenAnswers",
    "ivy",
    "ivy_jar",
    "ivy_select",
    "java",
    "maven",
    "maven_range_contains",
    "maven_sort",
    "missing",
]

_HERE = Path(__file__).parent
_MAVEN_LIB = Path("/usr/share/maven/lib")
_MAVEN_JARS = (_MAVEN_LIB / "maven-artifact-3.x.jar", _MAVEN_LIB / "commons-lang3.jar")
_TIMEOUT_S = 120


@dataclass(frozen=True)
class MavenAnswers:
    """What Maven says about a batch of versions and range specs."""

    sorted: tuple[str, ...]
    contains: Mapping[str, tuple[str, ...]]  # spec -> the versions VersionRange.containsVersion accepts
    errors: Mapping[str, str]  # spec -> Maven's message, for specs createFromVersionSpec refuses


@dataclass(frozen=True)
class IvyAnswer:
    """What Ivy's default version matcher and latest-revision strategy make of one revision."""

    newest: str | None
    accepted: tuple[str, ...]


@dataclass(frozen=True)
class IvyAnswers:
    """What Ivy says about a batch of versions and revisions."""

    sorted: tuple[str, ...]
    select: Mapping[str, IvyAnswer]


def java() -> str:
    """The ``java`` executable, from ``JAVA_HOME`` or ``PATH``."""
    home = Path(os.environ.get("JAVA_HOME") or "/nonexistent", "bin", "java")
    found = str(home) if home.is_file() else shutil.which("java")
    if found is None:
        missing("java is not installed (apt-get install openjdk-17-jre-headless)")
    return found


def ivy_jar() -> Path:
    """Apache Ivy's jar: Debian's ``ivy`` package, else the one pyspark ships."""
    debian = Path("/usr/share/java/ivy.jar")
    if debian.is_file():
        return debian
    spec = importlib.util.find_spec("pyspark")  # locates pyspark without importing it
    if spec is not None and spec.origin is not None:
        shipped = sorted(Path(spec.origin).parent.joinpath("jars").glob("ivy-2.5.*.jar"))
        if shipped:
            return shipped[-1]
    missing("Apache Ivy is not installed (apt-get install ivy, or pip install pyspark)")


def maven(versions: Iterable[str], ranges: Iterable[str] = ()) -> MavenAnswers:
    """Maven's ComparableVersion order of ``versions`` and, per range spec, the versions it contains."""
    for jar in _MAVEN_JARS:
        if not jar.is_file():
            missing(f"{jar} is missing (apt-get install maven)")
    args = [arg for spec in ranges for arg in ("--range", spec)]
    lines = _run("MavenOracle.java", _MAVEN_JARS, [*args, *versions])
    contains = {line[1]: tuple(line[2:]) for line in lines if line[0] == "range"}
    errors = {line[1]: line[2] for line in lines if line[0] == "error"}
    return MavenAnswers(tuple(line[1] for line in lines if line[0] == "sorted"), contains, errors)


def maven_sort(versions: Iterable[str]) -> list[str]:
    """``versions`` in Maven's ComparableVersion order."""
    return list(maven(versions).sorted)


def maven_range_contains(spec: str, versions: Iterable[str]) -> list[str]:
    """The ``versions`` that Maven's VersionRange ``spec`` contains."""
    return list(maven(versions, [spec]).contains[spec])


def ivy(selectors: Iterable[str], versions: Iterable[str]) -> IvyAnswers:
    """Ivy's latest-revision order of ``versions`` and, per revision, what its version matcher accepts."""
    args = [arg for selector in selectors for arg in ("--selector", selector)]
    lines = _run("IvyOracle.java", (ivy_jar(),), [*args, *versions])
    select = {line[1]: IvyAnswer(line[2] or None, tuple(line[3:])) for line in lines if line[0] == "select"}
    return IvyAnswers(tuple(line[1] for line in lines if line[0] == "sorted"), select)


def ivy_select(selectors: Iterable[str], versions: Iterable[str]) -> dict[str, str | None]:
    """The newest of ``versions`` that Ivy picks for each revision in ``selectors`` (None: none matches)."""
    return {selector: answer.newest for selector, answer in ivy(selectors, versions).select.items()}


def _run(source: str, classpath: Iterable[Path], args: list[str]) -> list[list[str]]:
    command = [java(), "-cp", os.pathsep.join(map(str, classpath)), str(_HERE / source), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{source} exited with {done.returncode}:\n{done.stderr}")
    # Tab-separated answers only: the JVM or a library may print other lines.
    return [line.split("\t") for line in done.stdout.splitlines() if "\t" in line]
