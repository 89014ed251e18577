"""What we deploy is read without complaint by Maven's own strict readers and Java's jar reader."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from realtools import require_tool

from registry.deploy import deploy
from registry.modelcard import ModelCard
from registry.repository.local import LocalRepository

pytestmark = pytest.mark.integration

_LIB = Path("/usr/share/maven/lib")
_JARS = [_LIB / "maven-model-3.x.jar", _LIB / "maven-repository-metadata-3.x.jar", _LIB / "plexus-utils.jar"]
_PROGRAM = Path(__file__).parents[1] / "oracles" / "MavenReaders.java"


def _read(java: str, kind: str, *files: Path) -> list[str]:
    require_tool(all(j.is_file() for j in _JARS), "Maven's jars under /usr/share/maven/lib")
    done = subprocess.run(
        [java, "-cp", ":".join(map(str, _JARS)), str(_PROGRAM), kind, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_pom_metadata_and_jar_pass_mavens_strict_readers(
    java: str, local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    card = ModelCard.create("x", description='Churn <LR> & "friends"', metrics={"auc": 0.9, "rmse": 1.5})
    first = deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card)
    second = deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card)
    root = local_repo.root
    poms = _read(java, "pom", root / first.path("pom"), root / second.path("pom"))
    assert poms == ["com.acme:churn:1.0.0\tjar\t0", "com.acme:churn:1.0.1\tjar\t0"]
    assert _read(java, "metadata", root / first.module.metadata_path) == ["com.acme:churn\t1.0.1\t1.0.0,1.0.1"]
    manifest, entries = _read(java, "jar", root / second.path("jar"))[0].split("\t")
    assert manifest == "true"
    assert int(entries) > 5


def test_metadata_after_a_yank_passes_mavens_strict_reader(
    java: str, local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    from registry.yank import yank

    for content in ("a", "b", "c"):
        deploy(make_model(content), "com.acme:churn:1.0", repository=local_repo)
    yank("com.acme:churn:1.0.2", reason="bad", repository=local_repo)
    metadata = local_repo.root / "com/acme/churn/maven-metadata.xml"
    assert _read(java, "metadata", metadata) == ["com.acme:churn\t1.0.1\t1.0.0,1.0.1"]
