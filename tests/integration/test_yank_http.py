"""Yank on real WebDAV servers (nginx, nginx refusing overwrites, Apache), and real Apache Ivy skipping it."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from clients import open_dav
from oracles.java import ivy_jar, java
from servers import DavRepo
from test_ivy_resolution import _SETTINGS, _TIMEOUT_S, _ivy_command

from registry.coordinates import Module
from registry.deploy import deploy
from registry.fsck import Kind, check
from registry.repository.local import LocalRepository
from registry.resolve import YankedWarning, resolve
from registry.store import read_metadata
from registry.yank import unyank, yank

pytestmark = pytest.mark.integration

CHURN = Module.parse("com.acme:churn")


def test_yank_and_unyank_over_webdav(http_repo: DavRepo, make_model: Callable[..., Path], tmp_path: Path) -> None:
    repository = open_dav(http_repo)
    for content in ("a", "b", "c"):
        deploy(make_model(content), "com.acme:churn:1.0", repository=repository)
    yank("com.acme:churn:1.0.2", reason="scored nulls", repository=repository)
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.0", "1.0.1")
    assert (http_repo.root / "com/acme/churn/1.0.2/churn-1.0.2.jar").is_file()
    cache = tmp_path / "cache"
    latest = resolve("com.acme:churn:latest.release", repository=repository, cache_dir=cache)
    assert str(latest.coordinate) == "com.acme:churn:1.0.1"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exact = resolve("com.acme:churn:1.0.2", repository=repository, cache_dir=cache)
    assert (exact.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text() == "c" * 100
    [warned] = [str(w.message) for w in caught if issubclass(w.category, YankedWarning)]
    assert "scored nulls" in warned
    report = check(repository, ["com.acme:churn"], repair=True)
    assert report.clean and [f.kind for f in report.findings] == [Kind.YANKED]
    unyank("com.acme:churn:1.0.2", repository=repository)
    again = resolve("com.acme:churn:latest.release", repository=repository, cache_dir=cache)
    assert str(again.coordinate) == "com.acme:churn:1.0.2"


def _ivy_latest(repository: LocalRepository, work: Path) -> str:
    settings = work / "ivysettings.xml"
    work.mkdir()
    settings.write_text(_SETTINGS.format(root=repository.root.as_uri()))
    done = subprocess.run(
        _ivy_command(java(), ivy_jar(), settings, work, "latest.release"),
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [retrieved] = (work / "out").glob("churn-*.jar")
    return retrieved.name


def test_ivy_latest_release_skips_a_yanked_version(make_model: Callable[..., Path], tmp_path: Path) -> None:
    repository = LocalRepository(tmp_path / "repo")
    for content in ("a", "b"):
        deploy(make_model(content), "com.acme:churn:1.0", repository=repository)
    assert _ivy_latest(repository, tmp_path / "before") == "churn-1.0.1.jar"
    yank("com.acme:churn:1.0.1", reason="bad", repository=repository)
    assert _ivy_latest(repository, tmp_path / "after") == "churn-1.0.0.jar"


def test_prune_over_webdav(http_repo: DavRepo, make_model: Callable[..., Path]) -> None:
    from registry.prune import prune

    repository = open_dav(http_repo)
    for content in ("a", "b", "c"):
        deploy(make_model(content), "com.acme:churn:1.0", repository=repository)
    plan = prune(CHURN, repository=repository, keep_last=1, keep_series=False, apply=True)
    assert [(str(d.coordinate.version), d.delete) for d in plan] == [("1.0.0", True), ("1.0.1", True), ("1.0.2", False)]
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.2",)
    assert not (http_repo.root / "com/acme/churn/1.0.0/churn-1.0.0.jar").exists()
    assert (http_repo.root / "com/acme/churn/1.0.0/churn-1.0.0-prune-1.json").is_file()
    report = check(repository, ["com.acme:churn"])
    assert report.clean and [f.kind for f in report.findings] == [Kind.PRUNED, Kind.PRUNED]
