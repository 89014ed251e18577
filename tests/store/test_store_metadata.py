"""maven-metadata.xml through :mod:`registry.store.metadata`, on a real local repository: what is listed, what a
selector picks, and :func:`publish`, which keeps merging its versions back in until they stay listed."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from registry.coordinates import Module
from registry.exceptions import ArtifactNotFound, RepositoryUnavailable
from registry.metadata import Metadata
from registry.repository.local import LocalRepository
from registry.store import is_listed, list_versions, publish, read_metadata, select, select_version
from registry.store import metadata as store_metadata
from registry.versions import Selector, Version

CHURN = Module("com.acme", "churn")


def versions(*texts: str) -> list[Version]:
    return [Version.parse(text) for text in texts]


class LosesTheFirstUpdates(LocalRepository):
    """A server that cannot make a read-modify-write atomic: a concurrent writer that read the metadata before
    ours overwrites our first ``losses`` updates with what it read plus its own version."""

    def __init__(self, root: Path, losses: int) -> None:
        super().__init__(root)
        self.losses = losses
        self.updates = 0

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        before = self.read(path) if self.exists(path) else None
        written = super().update(path, change)
        self.updates += 1
        if self.updates <= self.losses:
            theirs = Metadata.parse(before, CHURN, path) if before is not None else Metadata(CHURN)
            other = theirs.with_versions(versions(f"0.0.{self.updates}")).render()
            (self.root / path).write_bytes(other)  # the other writer's copy wins
        return written


def test_an_artifact_without_metadata_has_no_versions(local_repo: LocalRepository) -> None:
    assert read_metadata(local_repo, CHURN) is None
    assert list_versions(CHURN, local_repo) == []
    assert not is_listed(local_repo, CHURN.at(Version.parse("1.0.0")))


def test_published_versions_are_listed_oldest_first_and_publishing_again_changes_nothing(
    local_repo: LocalRepository,
) -> None:
    publish(local_repo, CHURN, versions("1.1.0"))
    publish(local_repo, CHURN, versions("1.0.0", "1.1.0"))
    assert list_versions("com.acme:churn", local_repo) == versions("1.0.0", "1.1.0")
    assert is_listed(local_repo, CHURN.at(Version.parse("1.0.0")))
    assert not is_listed(local_repo, CHURN.at(Version.parse("2.0.0")))


def test_concurrent_publishers_all_stay_listed(local_repo: LocalRepository) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: publish(local_repo, CHURN, versions(f"1.0.{n}")), range(16)))
    assert list_versions(CHURN, local_repo) == versions(*(f"1.0.{n}" for n in range(16)))


def test_a_version_lost_to_a_concurrent_writer_is_merged_back_in_and_theirs_kept(tmp_path: Path) -> None:
    repository = LosesTheFirstUpdates(tmp_path / "repo", losses=2)
    publish(repository, CHURN, versions("1.0.0"))
    assert repository.updates == 3  # lost twice, then listed
    assert list_versions(CHURN, repository) == versions("0.0.1", "0.0.2", "1.0.0")


def test_a_version_that_keeps_being_lost_ends_in_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_metadata, "PUBLISH_DEADLINE", 0.0)
    repository = LosesTheFirstUpdates(tmp_path / "repo", losses=1_000)
    with pytest.raises(RepositoryUnavailable, match=re.escape("Run 'registry fsck com.acme:churn --repair'")):
        publish(repository, CHURN, versions("1.0.0"))
    assert repository.updates == 1  # the deadline had passed after the first try


def test_nothing_is_written_when_the_files_are_not_ready(local_repo: LocalRepository) -> None:
    def not_ready() -> None:
        raise ArtifactNotFound("the jar is missing")

    with pytest.raises(ArtifactNotFound, match="the jar is missing"):
        publish(local_repo, CHURN, versions("1.0.0"), ready=not_ready)
    assert read_metadata(local_repo, CHURN) is None


def test_a_selector_picks_the_newest_version_it_accepts(local_repo: LocalRepository) -> None:
    publish(local_repo, CHURN, versions("1.0.0", "1.0.1", "1.1.0", "2.0.0"))
    assert str(select("com.acme:churn:1.0", local_repo)) == "com.acme:churn:1.0.1"
    assert str(select("latest.release", local_repo, CHURN)) == "com.acme:churn:2.0.0"
    assert str(select_version(CHURN, Selector.parse("[1.0,2.0)"), local_repo)) == "com.acme:churn:1.1.0"
    with pytest.raises(ArtifactNotFound, match=re.escape("the newest are: 1.0.0, 1.0.1, 1.1.0, 2.0.0")):
        select("com.acme:churn:3.0", local_repo)


def test_an_exact_version_is_chosen_without_reading_anything(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    nowhere = LocalRepository(tmp_path / "empty")  # a repository with no metadata at all
    assert str(select("com.acme:churn:1.2.3", nowhere)) == "com.acme:churn:1.2.3"
    with pytest.raises(ArtifactNotFound, match="has no released versions"):
        select("com.acme:churn:latest.release", nowhere)
