"""Yank and unyank on local repositories (HTTP ones and Ivy: tests/integration/test_yank_http.py)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from registry.cli import main
from registry.coordinates import Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, InvalidInput
from registry.fsck import Kind, check
from registry.promote import promote
from registry.repository.local import LocalRepository
from registry.resolve import YankedWarning, resolve
from registry.store import read_metadata, read_yanks, record_yank
from registry.versions import Version
from registry.withdrawal import YankEvent
from registry.yank import unyank, yank

CHURN = Module.parse("com.acme:churn")


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(list(ctx.args))


def run(*args: str) -> tuple[int, str, str]:
    """The real entry point with its error handler: exit code, stdout, stderr."""
    result = CliRunner().invoke(_entry, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _release(repository: LocalRepository, make_model: Callable[..., Path], count: int = 3) -> list[str]:
    return [str(deploy(make_model(f"w{i}"), "com.acme:churn:1.0", repository=repository)) for i in range(count)]


def _tree(repository: LocalRepository) -> dict[str, bytes]:
    return {str(p.relative_to(repository.root)): p.read_bytes() for p in repository.root.rglob("*") if p.is_file()}


def _picked(repository: LocalRepository, selector: str) -> str:
    return str(resolve(f"com.acme:churn:{selector}", repository=repository).coordinate)


def test_a_yanked_version_is_skipped_by_selectors_and_resolves_exactly_with_one_warning(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    _release(local_repo, make_model)
    files_before = {k for k in _tree(local_repo) if "1.0.2" in k}
    done = yank("com.acme:churn:1.0.2", reason="leaks the label", repository=local_repo)
    assert done.event.reason == "leaks the label" and done.event.by["user"]
    for selector in ("latest.release", "1.0", "1.0.+", "1.+", "[1.0,2.0)", "+"):
        assert _picked(local_repo, selector) == "com.acme:churn:1.0.1", selector
    metadata = read_metadata(local_repo, CHURN)
    assert metadata is not None
    assert metadata.versions == ("1.0.0", "1.0.1") and metadata.release == metadata.latest == "1.0.1"
    # Every file stays; the record (with its checksums) is beside them.
    after = _tree(local_repo)
    assert files_before <= set(after)
    record = json.loads(after["com/acme/churn/1.0.2/churn-1.0.2-yank-1.json"])
    assert record["reason"] == "leaks the label" and record["action"] == "yank"
    assert "com/acme/churn/1.0.2/churn-1.0.2-yank-1.json.sha512" in after
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exact = resolve("com.acme:churn:1.0.2", repository=local_repo)
    assert str(exact.coordinate) == "com.acme:churn:1.0.2" and (exact.path / "metadata").is_dir()
    yanked = [w for w in caught if issubclass(w.category, YankedWarning)]
    assert len(yanked) == 1 and "leaks the label" in str(yanked[0].message)
    assert exact.yanked is not None and exact.yanked.reason == "leaks the label"


def test_unyank_lists_the_version_again_and_a_second_yank_is_recorded_apart(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    _release(local_repo, make_model)
    yank("com.acme:churn:1.0.2", reason="first", repository=local_repo)
    unyank("com.acme:churn:1.0.2", repository=local_repo)
    assert _picked(local_repo, "latest.release") == "com.acme:churn:1.0.2"
    yank("com.acme:churn:1.0.2", reason="second", repository=local_repo)
    assert _picked(local_repo, "latest.release") == "com.acme:churn:1.0.1"
    log = read_yanks(local_repo, CHURN)
    assert [(e.action, e.sequence, e.reason) for e in log.events] == [
        ("yank", 1, "first"),
        ("unyank", 1, ""),
        ("yank", 2, "second"),
    ]
    assert log.yanked()["1.0.2"].reason == "second"
    names = {p.name for p in (local_repo.root / "com/acme/churn/1.0.2").iterdir()}
    assert {"churn-1.0.2-yank-1.json", "churn-1.0.2-unyank-1.json", "churn-1.0.2-yank-2.json"} <= names


def test_bad_input_is_one_clear_error_and_changes_nothing(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    _release(local_repo, make_model, 2)
    before = _tree(local_repo)
    with pytest.raises(ArtifactNotFound, match="not released"):
        yank("com.acme:churn:1.0.7", reason="x", repository=local_repo)
    with pytest.raises(InvalidInput, match="--reason"):
        yank("com.acme:churn:1.0.1", reason=" ", repository=local_repo)
    with pytest.raises(InvalidInput, match="not yanked"):
        unyank("com.acme:churn:1.0.1", repository=local_repo)
    with pytest.raises(InvalidInput, match="exact version"):
        yank("com.acme:churn:latest.release", reason="x", repository=local_repo)
    assert _tree(local_repo) == before
    yank("com.acme:churn:1.0.1", reason="bad", repository=local_repo)
    after = _tree(local_repo)
    with pytest.raises(InvalidInput, match=r"already yanked.*bad"):
        yank("com.acme:churn:1.0.1", reason="again", repository=local_repo)
    assert _tree(local_repo) == after


def test_cli_yank_versions_show_and_resolve(local_repo: LocalRepository, make_model: Callable[..., Path]) -> None:
    _release(local_repo, make_model)
    repo = str(local_repo.root)
    code, _, err = run("yank", "com.acme:churn:1.0.2", "-r", repo)
    assert code == 2 and "--reason" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run("yank", "com.acme:churn:1.0.2", "-r", repo, "--reason", "wrong labels")
    assert code == 0 and out.strip().splitlines()[-1] == "com.acme:churn:1.0.2"
    assert run("versions", "com.acme:churn", "-r", repo)[1].splitlines() == [
        "1.0.0",
        "1.0.1",
        "1.0.2 (yanked: wrong labels)",
    ]
    code, out, _ = run("show", "com.acme:churn:1.0.2", "-r", repo)
    assert code == 0 and "Yanked" in out and "wrong labels" in out
    assert json.loads(run("show", "com.acme:churn:1.0.2", "-r", repo, "--json")[1])["yanked"]["reason"] == (
        "wrong labels"
    )
    assert "yanked" not in json.loads(run("show", "com.acme:churn:latest.release", "-r", repo, "--json")[1])
    code, out, err = run("resolve", "com.acme:churn:1.0.2", "-r", repo)
    assert code == 0 and Path(out.splitlines()[-1]).is_dir()
    warned = [line for line in err.splitlines() if "yanked" in line]
    assert len(warned) == 1 and warned[0].startswith("warning:") and "wrong labels" in warned[0]
    assert run("unyank", "com.acme:churn:1.0.2", "-r", repo)[0] == 0
    code, _, err = run("unyank", "com.acme:churn:1.0.2", "-r", repo)
    assert code == 2 and "not yanked" in err and len(err.strip().splitlines()) == 1


def test_fsck_knows_a_yanked_version_is_whole_and_repair_never_lists_it(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    _release(local_repo, make_model)
    yank("com.acme:churn:1.0.2", reason="bad", repository=local_repo)
    report = check(local_repo, ["com.acme:churn"], repair=True)
    assert report.clean
    assert [(f.version, f.kind) for f in report.findings] == [("1.0.2", Kind.YANKED)]
    assert report.findings[0].repaired is None
    assert _picked(local_repo, "latest.release") == "com.acme:churn:1.0.1"


def test_a_yank_that_died_before_its_last_step_is_finished_by_fsck_or_by_running_it_again(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    _release(local_repo, make_model)
    coordinate = CHURN.at(Version(1, 0, 2))
    # The record and the log are written, then the process dies before the metadata is updated.
    record_yank(local_repo, coordinate, YankEvent(str(coordinate), "yank", 1, "2026-01-01T00:00:00Z", {}, "bad"))
    assert _picked(local_repo, "latest.release") == "com.acme:churn:1.0.2"
    report = check(local_repo, ["com.acme:churn"])
    assert [(f.version, f.kind) for f in report.findings] == [("1.0.2", Kind.YANK_UNFINISHED)]
    assert not report.clean
    done = yank("com.acme:churn:1.0.2", reason="bad, again", repository=local_repo)
    assert done.event.reason == "bad"  # the recorded yank, finished; not a second one
    assert _picked(local_repo, "latest.release") == "com.acme:churn:1.0.1"
    assert check(local_repo, ["com.acme:churn"]).clean

    # The same crash after an unyank's record: fsck --repair lists it again.
    record_yank(local_repo, coordinate, YankEvent(str(coordinate), "unyank", 1, "2026-01-02T00:00:00Z", {}, ""))
    repaired = check(local_repo, ["com.acme:churn"], repair=True)
    assert [(f.version, f.kind, bool(f.repaired)) for f in repaired.findings] == [("1.0.2", Kind.UNLISTED, True)]
    assert _picked(local_repo, "latest.release") == "com.acme:churn:1.0.2"


def test_deploying_another_build_keeps_a_yanked_version_out(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    _release(local_repo, make_model)
    yank("com.acme:churn:1.0.2", reason="bad", repository=local_repo)
    new = str(deploy(make_model("w9"), "com.acme:churn:1.0", repository=local_repo))
    assert new == "com.acme:churn:1.0.3"
    metadata = read_metadata(local_repo, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.0", "1.0.1", "1.0.3")


def test_a_yank_stays_in_its_repository(tmp_path: Path, make_model: Callable[..., Path]) -> None:
    staging, releases = LocalRepository(tmp_path / "staging"), LocalRepository(tmp_path / "releases")
    _release(staging, make_model, 2)
    yank("com.acme:churn:1.0.1", reason="bad in staging", repository=staging)
    promote("com.acme:churn:1.0.1", source=staging, target=releases)
    names = {p.name for p in (releases.root / "com/acme/churn/1.0.1").iterdir()}
    assert not any("yank" in name for name in names)
    assert _picked(releases, "latest.release") == "com.acme:churn:1.0.1"
    yank("com.acme:churn:1.0.1", reason="bad in releases", repository=releases)
    with pytest.raises(InvalidInput, match="yanked in"):
        promote("com.acme:churn:1.0.1", source=staging, target=releases)
    metadata = read_metadata(releases, CHURN)
    assert metadata is not None and metadata.versions == ()


def test_the_catalog_shows_a_yanked_version_and_does_not_call_it_latest(
    local_repo: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    from registry.catalog import build_catalog

    _release(local_repo, make_model)
    yank("com.acme:churn:1.0.2", reason="leaks the label", repository=local_repo)
    index = build_catalog(tmp_path / "site", repository=local_repo)
    page = (index.parent / next(p.name for p in index.parent.glob("*churn*.html"))).read_text()
    assert 'id="v1.0.2"' in page and "yanked" in page and "leaks the label" in page
    listing = index.read_text()
    assert "1.0.1" in listing and "1.0.2" not in listing  # the index names latest.release: 1.0.1
