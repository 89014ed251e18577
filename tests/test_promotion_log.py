"""The promotion log of an artifact (:mod:`registry.store.promotions`): which versions have a promotion record in a
repository, so that a catalog or history reads no record that does not exist. Between local repositories;
concurrent promotions into one artifact on a real nginx: tests/integration/test_promote_http.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cardhelpers import CountingRepository, run_cli

from registry.coordinates import Coordinate, Module
from registry.deploy import deploy
from registry.exceptions import IntegrityError
from registry.fsck import Kind, check
from registry.promote import promote
from registry.promotion import PromotionLog
from registry.repository.base import Repository
from registry.repository.local import LocalRepository
from registry.store import Cache, read_history, read_promotion_log

CHURN = Module("com.acme", "churn")
LOG = PromotionLog.path(CHURN)


@pytest.fixture
def mixed(staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]) -> list[Coordinate]:
    """``releases`` holds 2.0.0 and 2.0.1, deployed into it, and 1.0.1 and 1.0.2, promoted from ``staging``
    (which holds 1.0.0 to 1.0.2): the two promoted versions, in the order promoted."""
    built = [deploy(make_model(f"s{i}"), "com.acme:churn:1.0", repository=staging) for i in range(3)]
    for i in range(2):
        deploy(make_model(f"r{i}"), "com.acme:churn:2.0", repository=releases)
    for coordinate in built[1:]:
        promote(str(coordinate), source=staging, target=releases)
    return built[1:]


def _promoted(repository: Repository, tmp_path: Path, name: str) -> dict[str, bool]:
    history = read_history(CHURN, repository, cache=Cache(tmp_path / name), promotions=True)
    return {str(r.coordinate.version): r.promotion is not None for r in history.cards}


def test_a_cold_history_reads_only_the_records_the_log_names_and_shows_them(
    releases: LocalRepository, mixed: list[Coordinate], tmp_path: Path
) -> None:
    counting = CountingRepository(releases)
    shown = _promoted(counting, tmp_path, "cold")
    assert shown == {"2.0.1": False, "2.0.0": False, "1.0.2": True, "1.0.1": True}
    assert sorted(counting.reads("-promotion.json")) == sorted(c.path("json", "promotion") for c in mixed)
    assert read_promotion_log(releases, CHURN) == PromotionLog(frozenset({"1.0.1", "1.0.2"}))


def test_without_a_log_every_record_is_asked_for_until_fsck_repair_writes_it(
    releases: LocalRepository, mixed: list[Coordinate], tmp_path: Path
) -> None:
    releases.delete(LOG)  # an artifact written before the log existed
    counting = CountingRepository(releases)
    assert _promoted(counting, tmp_path, "before") == {"2.0.1": False, "2.0.0": False, "1.0.2": True, "1.0.1": True}
    assert len(counting.reads("-promotion.json")) == 4  # the fallback: correct, a read a version
    found = check(releases, [CHURN])
    assert [(f.kind, f.version) for f in found.findings] == [(Kind.PROMOTION_LOG, None)] and not found.clean
    assert "no promotion log, while 2 version(s) have a promotion record" in str(found.findings[0])
    repaired = check(releases, [CHURN], repair=True)
    assert repaired.clean and repaired.findings[0].repaired
    assert read_promotion_log(releases, CHURN) == PromotionLog(frozenset({"1.0.1", "1.0.2"}))
    counting.calls.clear()
    assert _promoted(counting, tmp_path, "after") == {"2.0.1": False, "2.0.0": False, "1.0.2": True, "1.0.1": True}
    assert len(counting.reads("-promotion.json")) == 2
    assert check(releases, [CHURN]).findings == ()


def test_an_artifact_without_a_log_or_a_record_is_a_note_and_repair_writes_the_empty_log(
    staging: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    """An artifact deployed before the log existed, never promoted: nothing is wrong (a note, the repository is
    clean), but its catalog asks every version for a record until ``fsck --repair`` writes the empty log."""
    for i in range(2):
        deploy(make_model(f"s{i}"), "com.acme:churn:1.0", repository=staging)
    staging.delete(LOG)
    counting = CountingRepository(staging)
    assert _promoted(counting, tmp_path, "before") == {"1.0.1": False, "1.0.0": False}
    assert len(counting.reads("-promotion.json")) == 2
    found = check(staging, [CHURN])
    assert [(f.kind, f.version) for f in found.findings] == [(Kind.NO_PROMOTION_LOG, None)] and found.clean
    assert "'registry fsck --repair' writes it" in str(found.findings[0])
    repaired = check(staging, [CHURN], repair=True)
    assert repaired.findings[0].repaired == "wrote the promotion log (0 version(s) with a record)"
    assert read_promotion_log(staging, CHURN) == PromotionLog()
    counting.calls.clear()
    assert _promoted(counting, tmp_path, "after") == {"1.0.1": False, "1.0.0": False}
    assert counting.reads("-promotion.json") == []
    assert check(staging, [CHURN]).findings == ()


def test_fsck_repair_listing_an_artifacts_first_version_writes_its_empty_log(
    staging: LocalRepository, make_model: Callable[..., Path]
) -> None:
    """A first deploy that died just before listing: ``fsck --repair`` lists it as that deploy's publish would
    have, the artifact's empty promotion log first."""
    deploy(make_model(), "com.acme:churn:1.0", repository=staging)
    for path in (CHURN.metadata_path, LOG):
        for name in staging.list(CHURN.path):
            if name.startswith(path.rsplit("/", 1)[-1]):
                staging.delete(f"{CHURN.path}/{name}")
    assert read_promotion_log(staging, CHURN) is None
    repaired = check(staging, [CHURN], repair=True, min_age=0)
    assert [(f.kind, f.repaired) for f in repaired.findings] == [(Kind.UNLISTED, "listed in maven-metadata.xml")]
    assert read_promotion_log(staging, CHURN) == PromotionLog()


def test_fsck_finds_a_record_the_log_does_not_name_and_repair_adds_it(
    releases: LocalRepository, mixed: list[Coordinate], tmp_path: Path
) -> None:
    releases.update(LOG, lambda _: PromotionLog(frozenset({"1.0.2"})).render())  # 1.0.1 lost
    assert _promoted(releases, tmp_path, "lost")["1.0.1"] is False  # the log is trusted: that is why fsck says so
    found = check(releases, [CHURN])
    assert "does not name 1.0.1, whose promotion record exists" in str(found.findings[0])
    check(releases, [CHURN], repair=True)
    assert read_promotion_log(releases, CHURN) == PromotionLog(frozenset({"1.0.1", "1.0.2"}))
    assert _promoted(releases, tmp_path, "lost")["1.0.1"] is True  # the same cache: nothing was remembered absent


def test_the_first_promotion_into_an_artifact_without_a_log_seeds_it_with_every_record(
    staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    built = [deploy(make_model(f"s{i}"), "com.acme:churn:1.0", repository=staging) for i in range(3)]
    deploy(make_model("r"), "com.acme:churn:2.0", repository=releases)
    promote(str(built[0]), source=staging, target=releases)
    promote(str(built[1]), source=staging, target=releases)
    releases.delete(LOG)  # written the old way
    promote(str(built[2]), source=staging, target=releases)
    assert read_promotion_log(releases, CHURN) == PromotionLog(frozenset({"1.0.0", "1.0.1", "1.0.2"}))


def test_a_promotion_run_again_after_its_record_was_written_names_the_version(
    staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=staging)
    promote(str(coordinate), source=staging, target=releases)
    releases.update(LOG, lambda _: PromotionLog().render())  # as if it died after the record, before the log
    releases.update(CHURN.metadata_path, lambda data: data.replace(b"<version>1.0.0</version>", b""))
    assert not promote(str(coordinate), source=staging, target=releases).already_present
    assert read_promotion_log(releases, CHURN) == PromotionLog(frozenset({"1.0.0"}))


class LosesTheFirstLogUpdate(LocalRepository):
    """A repository where another writer's copy of the promotion log overwrites ours once (a server that cannot
    make a read-modify-write atomic)."""

    lost = False

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        written = super().update(path, change)
        if path == LOG and not self.lost:
            self.lost = True
            (self.root / path).write_bytes(PromotionLog(frozenset({"0.9.9"})).render())  # theirs wins
        return written


def test_a_version_lost_from_the_log_to_a_concurrent_writer_is_merged_back_in(
    staging: LocalRepository, tmp_path: Path, make_model: Callable[..., Path]
) -> None:
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=staging)
    target = LosesTheFirstLogUpdate(tmp_path / "losing")
    promote(str(coordinate), source=staging, target=target)
    assert target.lost and read_promotion_log(target, CHURN) == PromotionLog(frozenset({"0.9.9", "1.0.0"}))


def test_the_first_deploy_creates_the_empty_log_and_the_next_deploy_asks_nothing_more(
    releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    counting = CountingRepository(releases)
    deploy(make_model("a"), "com.acme:churn:1.0", repository=counting)
    assert ("update", LOG) in counting.calls
    assert read_promotion_log(releases, CHURN) == PromotionLog()
    counting.calls.clear()
    deploy(make_model("b"), "com.acme:churn:1.0", repository=counting)
    assert not [call for call in counting.calls if "promotions" in call[1]], counting.calls


def test_a_damaged_log_is_one_clear_error_and_fsck_repair_rebuilds_it(
    releases: LocalRepository, mixed: list[Coordinate], tmp_path: Path
) -> None:
    (releases.root / LOG).write_bytes(b"<html>not json</html>")
    with pytest.raises(IntegrityError, match=r"registry fsck com\.acme:churn --repair"):
        read_history(CHURN, releases, cache=Cache(tmp_path / "c"), promotions=True)
    site = str(tmp_path / "site")
    code, out, err = run_cli("catalog", "--out", site, "-r", str(releases.root), "--artifact", "com.acme:churn")
    assert code != 0 and "Traceback" not in out + err
    (line,) = err.strip().splitlines()
    assert LOG in line and "is not a readable promotion log" in line and "fsck com.acme:churn --repair" in line
    code, out, _ = run_cli("fsck", "com.acme:churn", "-r", str(releases.root), "--repair")
    assert code == 0 and "promotion-log" in out, out
    assert json.loads((releases.root / LOG).read_bytes())["versions"] == ["1.0.1", "1.0.2"]
    assert _promoted(releases, tmp_path, "d")["1.0.1"] is True
