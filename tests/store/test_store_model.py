"""A release's model into the cache (:mod:`registry.store.model`), from a real local repository: the jar verified,
judged by the check it is given, extracted into the entry named after its checksum; nothing left behind on failure."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, IntegrityError
from registry.repository.local import LocalRepository
from registry.store import Cache, fill_model


@pytest.fixture
def release(local_repo: LocalRepository, make_model: Callable[..., Path]) -> Coordinate:
    return deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)


def leftovers(cache: Cache, coordinate: Coordinate) -> list[str]:
    return sorted(p.name for p in (cache.root / coordinate.directory).iterdir())


def test_a_model_is_extracted_once_and_found_again_by_its_checksum(
    local_repo: LocalRepository, release: Coordinate, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    checked: list[tuple[Path, Path, str]] = []
    entry = fill_model(cache, local_repo, release, lambda jar, folder, sig: checked.append((jar, folder, sig)), str)
    assert (entry / "model" / "metadata" / "part-00000").is_file()
    assert (entry / "model.json").is_file()  # the card the jar embeds
    assert entry.name.startswith("sha512-")
    assert checked[0][2] == ""  # what beside() returned
    assert Cache(tmp_path / "cache").model(local_repo.origin, release) == entry
    again = fill_model(cache, local_repo, release, lambda jar, folder, sig: checked.append((jar, folder, sig)), str)
    assert again == entry and checked[1][1] == entry  # judged again, against the entry already there
    assert leftovers(cache, release) == [entry.name]


def test_a_jar_the_check_refuses_leaves_nothing_behind(
    local_repo: LocalRepository, release: Coordinate, tmp_path: Path
) -> None:
    def refuse(jar: Path, folder: Path, signature: None) -> None:
        raise IntegrityError("not signed by a trusted key")

    cache = Cache(tmp_path / "cache")
    with pytest.raises(IntegrityError, match="not signed"):
        fill_model(cache, local_repo, release, refuse, lambda: None)
    assert leftovers(cache, release) == []
    assert cache.model(local_repo.origin, release) is None


def test_a_jar_that_does_not_match_its_checksum_is_refused(
    local_repo: LocalRepository, release: Coordinate, tmp_path: Path
) -> None:
    (local_repo.root / release.path("jar")).write_bytes(b"PK not the deployed jar")
    cache = Cache(tmp_path / "cache")
    with pytest.raises(IntegrityError, match=str(release)):
        fill_model(cache, local_repo, release, lambda jar, folder, sig: None, lambda: None)
    assert leftovers(cache, release) == []


def test_a_missing_release_is_not_found(local_repo: LocalRepository, tmp_path: Path) -> None:
    absent = Coordinate.parse("com.acme:churn:9.9.9")
    with pytest.raises(ArtifactNotFound, match=re.escape("com.acme:churn:9.9.9 does not exist")):
        fill_model(Cache(tmp_path / "cache"), local_repo, absent, lambda jar, folder, sig: None, lambda: None)
