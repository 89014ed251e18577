"""Real Apache Ivy resolving from a maven2 file repository picks what ``Selector.select`` picks.

Ivy runs standalone (``org.apache.ivy.Main``), once per revision, all at the same time, with settings that
name only our file resolver; the JVMs also get an unreachable proxy, so a stray download fails instead of
leaving the machine.
"""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from gpgtools import Keys
from oracles.java import ivy_jar, java

from registry.deploy import deploy
from registry.repository.local import LocalRepository
from registry.settings import Settings
from registry.versions import Selector

pytestmark = pytest.mark.integration

VERSIONS = ["1.0.0", "1.0.1", "1.0.9", "1.0.10", "1.1.0", "1.10.0", "2.0.0"]
# Ivy revision -> the version Ivy retrieves. '1.1+' is why Selector refuses that form: Ivy compares text,
# so it picks 1.10.0, not a 1.1 build. '[1.0,2.0]' is a pinned Ivy/Maven difference: Ivy ranks 2.0.0 above
# the bound 2.0, so it leaves 2.0.0 out, where Maven (and we) count 2.0 == 2.0.0; Selector.to_ivy() pads the
# bounds ('[1.0.0,2.0.0]'), which makes Ivy agree.
IVY_PICKS = {
    "latest.release": "2.0.0",
    "1.0.+": "1.0.10",
    "1.+": "1.10.0",
    "1.1+": "1.10.0",
    "[1.0.0,1.1.0)": "1.0.10",
    "[1.0,2.0]": "1.10.0",
    "[1.0.0,2.0.0]": "2.0.0",
}
# Our selector -> the Ivy revision that must retrieve the same version.
OURS = {
    "latest.release": "latest.release",
    "1.0": "1.0.+",
    "1": "1.0.+",
    "1.0.+": "1.0.+",
    "1.+": "1.+",
    "[1.0,1.1)": "[1.0.0,1.1.0)",
    "[1.0,2.0]": "[1.0.0,2.0.0]",
}
_TIMEOUT_S = 120
_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId>
  <artifactId>churn</artifactId>
  <version>{version}</version>
  <packaging>jar</packaging>
</project>
"""
_SETTINGS = """<ivysettings>
  <property name="ivy.maven.lookup.sources" value="false"/>
  <property name="ivy.maven.lookup.javadoc" value="false"/>
  <settings defaultResolver="repo"/>
  <caches default="c"><cache name="c" defaultTTL="0ms"/></caches>
  <resolvers><ibiblio name="repo" m2compatible="true" root="{root}"/></resolvers>
</ivysettings>
"""


def _write_repository(root: Path) -> None:
    module = root / "com" / "acme" / "churn"
    for version in VERSIONS:
        (module / version).mkdir(parents=True)
        (module / version / f"churn-{version}.pom").write_text(_POM.format(version=version))
        with zipfile.ZipFile(module / version / f"churn-{version}.jar", "w") as jar:
            jar.writestr("version.txt", version)
    listed = "".join(f"<version>{version}</version>" for version in VERSIONS)
    (module / "maven-metadata.xml").write_text(
        "<metadata><groupId>com.acme</groupId><artifactId>churn</artifactId><versioning>"
        f"<release>{VERSIONS[-1]}</release><versions>{listed}</versions>"
        "<lastUpdated>20240101000000</lastUpdated></versioning></metadata>"
    )


def _ivy_command(java_cmd: str, jar: Path, settings: Path, work: Path, revision: str) -> list[str]:
    """Apache Ivy's command line retrieving com.acme:churn at ``revision`` into ``WORK/out``, with a cache and an
    Ivy home of its own under ``work`` and every network proxy pointed at a closed port."""
    return [
        java_cmd,
        "-Dhttp.proxyHost=127.0.0.1",
        "-Dhttp.proxyPort=9",
        "-Dhttps.proxyHost=127.0.0.1",
        "-Dhttps.proxyPort=9",
        f"-Divy.default.ivy.user.dir={work / 'home'}",
        "-cp",
        str(jar),
        "org.apache.ivy.Main",
        "-settings",
        str(settings),
        "-cache",
        str(work / "cache"),
        "-dependency",
        "com.acme",
        "churn",
        revision,
        "-retrieve",
        f"{work / 'out'}/[artifact]-[revision].[ext]",
    ]


@pytest.fixture(scope="module")
def ivy_retrieved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Ivy revision -> the version real Ivy retrieves for it (read from the retrieved jar)."""
    java_cmd, jar = java(), ivy_jar()
    base = tmp_path_factory.mktemp("ivy")
    _write_repository(base / "repo")
    settings = base / "ivysettings.xml"
    settings.write_text(_SETTINGS.format(root=(base / "repo").as_uri()))
    running = {}
    for index, revision in enumerate(IVY_PICKS):
        work = base / f"run{index}"  # a cache of its own per run: concurrent runs must not share locks
        command = _ivy_command(java_cmd, jar, settings, work, revision)
        running[revision] = (
            work,
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
        )
    retrieved = {}
    for revision, (work, process) in running.items():
        output, _ = process.communicate(timeout=_TIMEOUT_S)
        assert process.returncode == 0, f"Ivy failed for {revision!r}:\n{output.decode(errors='replace')}"
        [jar_file] = (work / "out").glob("churn-*.jar")
        with zipfile.ZipFile(jar_file) as retrieved_jar:
            retrieved[revision] = retrieved_jar.read("version.txt").decode()
    return retrieved


@pytest.mark.parametrize(("revision", "version"), IVY_PICKS.items())
def test_ivy_retrieves(ivy_retrieved: dict[str, str], revision: str, version: str) -> None:
    assert ivy_retrieved[revision] == version


@pytest.mark.parametrize(("ours", "revision"), OURS.items())
def test_selector_agrees_with_real_ivy(ivy_retrieved: dict[str, str], ours: str, revision: str) -> None:
    selector = Selector.parse(ours)
    assert selector.to_ivy() == revision
    assert str(selector.select(VERSIONS)) == ivy_retrieved[revision]


def test_our_inclusive_upper_bound_follows_maven(ivy_retrieved: dict[str, str]) -> None:
    assert str(Selector.parse("[1.0,2.0]").select(VERSIONS)) == "2.0.0" != ivy_retrieved["[1.0,2.0]"]


def test_ivy_resolves_a_signed_version(gpg_keys: Keys, make_model: Callable[..., Path], tmp_path: Path) -> None:
    """The .asc files (and their checksums) beside a signed release do not disturb Ivy: it resolves
    latest.release, checks the jar's checksum and retrieves the jar, byte for byte; it fetches no signature."""
    repo = LocalRepository(tmp_path / "repo")
    deploy(make_model("older"), "com.acme:churn:1.0", repository=repo, sign=False)
    signed = deploy(
        make_model("signed"),
        "com.acme:churn:1.0",
        repository=repo,
        sign=gpg_keys.signer,
        settings=Settings(env={"GNUPGHOME": str(gpg_keys.home)}),
    )
    assert len(list((repo.root / signed.directory).glob("*.asc"))) == 3
    settings = tmp_path / "ivysettings.xml"
    settings.write_text(_SETTINGS.format(root=repo.root.as_uri()))
    work = tmp_path / "run"
    done = subprocess.run(
        _ivy_command(java(), ivy_jar(), settings, work, "latest.release"),
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [retrieved] = (work / "out").glob("churn-*.jar")
    assert retrieved.name == "churn-1.0.1.jar"
    assert retrieved.read_bytes() == (repo.root / signed.path("jar")).read_bytes()
    assert not list((work / "cache").rglob("*.asc")), "Ivy fetched signatures after all: classpath.py could use them"
