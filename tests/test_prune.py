"""registry prune on local repositories: what it spares, tombstones, fsck, history, and a crash part-way."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from governance import configure, deploy_series, run, tree

from registry.coordinates import Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound
from registry.fsck import Kind, check
from registry.history import history
from registry.repository.local import LocalRepository
from registry.resolve import resolve
from registry.store import read_metadata, record_yank, unpublish
from registry.versions import Version
from registry.withdrawal import YankEvent

CHURN = Module.parse("com.acme:churn")


def test_prune_spares_what_matters_leaves_tombstones_and_history_stays_true(
    tmp_path: Path, make_model: Callable[..., Path], isolated_env: Path
) -> None:
    staging = configure(isolated_env, tmp_path, staging={}, releases={})["staging"]
    deploy_series(make_model, "staging", "1.0", "1.0", "1.0", "1.1", "1.1")
    time.sleep(1.05)  # records keep whole seconds
    latest_then = dt.datetime.now(dt.timezone.utc)  # latest.release: 1.1.1, which the prune deletes
    time.sleep(1.05)
    deploy(make_model("new"), "com.acme:churn:1.1", repository="staging")
    assert run("promote", "com.acme:churn:1.0.0", "--from", "staging", "--to", "releases")[0] == 0
    before = tree(staging)
    code, out, _ = run("prune", "com.acme:churn", "--keep-last", "1")
    assert code == 0 and tree(staging) == before  # a dry run
    plan = out.splitlines()
    assert [line.split(":")[0] for line in plan] == [
        "keep 1.0.0",
        "delete 1.0.1",
        "keep 1.0.2",
        "delete 1.1.0",
        "delete 1.1.1",
        "keep 1.1.2",
    ]
    assert "promoted onward to releases" in plan[0] and "the newest of 1.0" in plan[2]
    assert "latest.release" in plan[5]
    assert run("prune", "com.acme:churn", "--keep-last", "1", "--apply")[0] == 0
    metadata = read_metadata(LocalRepository(staging), CHURN)
    assert metadata is not None and metadata.versions == ("1.0.0", "1.0.2", "1.1.2")
    left = {p.name for p in (staging / "com/acme/churn/1.1.1").iterdir()}
    assert {n for n in left if not n.endswith((".md5", ".sha1", ".sha256", ".sha512"))} == {
        "churn-1.1.1.pom",
        "churn-1.1.1-prune-1.json",
    }
    with pytest.raises(ArtifactNotFound):
        resolve("com.acme:churn:1.1.1", repository="staging")
    report = check(LocalRepository(staging), ["com.acme:churn"], repair=True)
    assert report.clean and sorted((f.version, f.kind) for f in report.findings) == [
        ("1.0.1", Kind.PRUNED),
        ("1.1.0", Kind.PRUNED),
        ("1.1.1", Kind.PRUNED),
    ]
    timeline = history("com.acme:churn", repository="staging", at=latest_then)
    assert str(timeline.latest) == "com.acme:churn:1.1.1"
    assert str(history("com.acme:churn", repository="staging", at=dt.datetime.now(dt.timezone.utc)).latest) == (
        "com.acme:churn:1.1.2"
    )
    events = history("com.acme:churn", repository="staging").events
    assert sorted(e.coordinate for e in events if e.kind == "pruned") == [
        "com.acme:churn:1.0.1",
        "com.acme:churn:1.1.0",
        "com.acme:churn:1.1.1",
    ]


def test_a_prune_that_died_part_way_is_reported_and_finished_by_fsck(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    deploy_series(make_model, local_repo, "1.0", "1.0", "1.0")
    coordinate = CHURN.at(Version(1, 0, 0))
    tombstone = YankEvent(str(coordinate), "prune", 1, "2026-01-01T00:00:00Z", {}, "old", "2025-01-01T00:00:00Z")
    record_yank(local_repo, coordinate, tombstone)
    unpublish(local_repo, CHURN, [coordinate.version])  # then the process dies: every file is still there
    report = check(local_repo, ["com.acme:churn"])
    [finding] = report.findings
    assert finding.kind is Kind.PRUNE_UNFINISHED and not report.clean
    assert check(local_repo, ["com.acme:churn"], repair=True).findings[0].repaired
    after = check(local_repo, ["com.acme:churn"])
    assert after.clean and [f.kind for f in after.findings] == [Kind.PRUNED]
    assert not (local_repo.root / coordinate.path("jar")).exists()
    assert (local_repo.root / coordinate.path("pom")).exists()


def test_bad_input_is_one_clear_error(local_repo: LocalRepository, make_model: Callable[..., Path]) -> None:
    deploy_series(make_model, local_repo, "1.0", "1.0")
    repo = str(local_repo.root)
    before = tree(local_repo.root)
    for args, message in (
        (("--keep-last", "0"), "keep at least 1"),
        (("--older-than", "3 months"), "number of days"),
    ):
        code, _, err = run("prune", "com.acme:churn", "-r", repo, "--apply", *args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    code, _, err = run("prune", "com.acme:nothing", "-r", repo)
    assert code == 1 and "no released versions" in err
    code, out, _ = run("prune", "com.acme:churn", "-r", repo, "--keep-last", "1", "--older-than", "90d", "--apply")
    assert code == 0 and "listed less than 90 days ago" in out.splitlines()[0]
    assert tree(local_repo.root) == before


def test_retention_is_configured_per_repository(
    tmp_path: Path, make_model: Callable[..., Path], isolated_env: Path
) -> None:
    retention = {"prune_keep_last": 1, "prune_keep_series": False}
    staging = configure(isolated_env, tmp_path, staging=retention)["staging"]
    config = isolated_env / "config.toml"
    deploy_series(make_model, "staging", "1.0", "1.0", "1.0")
    code, out, _ = run("prune", "com.acme:churn")
    assert code == 0 and [line.split(":")[0] for line in out.splitlines()] == [
        "delete 1.0.0",
        "delete 1.0.1",
        "keep 1.0.2",
    ]
    code, out, _ = run("prune", "com.acme:churn", "--keep-last", "2")  # the command line wins
    assert [line.split(":")[0] for line in out.splitlines()] == ["delete 1.0.0", "keep 1.0.1", "keep 1.0.2"]
    config.write_text(f'[repositories.staging]\nurl = "{staging.as_uri()}"\nprune_keep_last = 0\n')
    code, _, err = run("prune", "com.acme:churn", "-r", "staging")
    assert code == 1 and "prune_keep_last must be from 1" in err
