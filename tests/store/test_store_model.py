"""A release's model into the cache (:mod:`registry.store.model`), from a real local repository: the jar verified,
judged by the check it is given, extracted into the entry named after its checksum; nothing left behind on failure.
A jar already on this machine (on Spark's classpath) goes into the very entry a resolve fills for the same bytes."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, IntegrityError
from registry.repository.local import LocalRepository
from registry.store import Cache, fill_model, fill_model_from_jar


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


def _classpath_copy(local_repo: LocalRepository, release: Coordinate, tmp_path: Path) -> Path:
    """The release's jar where Spark's Ivy would have put it."""
    jar = tmp_path / "ivy" / "jars" / f"{release.group}_{release.artifact}-{release.version}.jar"
    jar.parent.mkdir(parents=True)
    shutil.copyfile(local_repo.root / release.path("jar"), jar)
    return jar


def test_a_jar_on_this_machine_and_its_release_share_one_entry(
    local_repo: LocalRepository, release: Coordinate, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    jar = _classpath_copy(local_repo, release, tmp_path)
    checked: list[tuple[Path, Path]] = []
    entry = fill_model_from_jar(cache, release, jar, lambda local, folder: checked.append((local, folder)))
    assert entry.name.startswith("sha512-") and entry.parent == cache.root / release.directory
    assert (entry / "model" / "metadata" / "part-00000").is_file() and (entry / "model.json").is_file()
    kept = entry / release.file_name("jar")
    assert kept.read_bytes() == jar.read_bytes()  # the copy that was judged is the one kept
    assert checked[0][0].name == kept.name and checked[0][1] != entry  # judged in the folder being built
    stamp = (entry / "model" / "metadata" / "part-00000").stat().st_mtime_ns
    resolved = fill_model(cache, local_repo, release, lambda local, folder, sig: checked.append((local, folder)), str)
    assert resolved == entry and checked[1] == (kept, entry)  # the release from the repository: not extracted again
    again = fill_model_from_jar(cache, release, jar, lambda local, folder: checked.append((local, folder)))
    assert again == entry and checked[2] == (kept, entry)
    assert (entry / "model" / "metadata" / "part-00000").stat().st_mtime_ns == stamp
    assert leftovers(cache, release) == [entry.name]


def test_a_resolved_release_is_not_extracted_again_from_the_classpath(
    local_repo: LocalRepository, release: Coordinate, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    entry = fill_model(cache, local_repo, release, lambda jar, folder, sig: None, str)
    stamp = (entry / "model" / "metadata" / "part-00000").stat().st_mtime_ns
    jar = _classpath_copy(local_repo, release, tmp_path)
    assert fill_model_from_jar(cache, release, jar, lambda local, folder: None) == entry
    assert (entry / "model" / "metadata" / "part-00000").stat().st_mtime_ns == stamp
    assert leftovers(cache, release) == [entry.name]


def test_a_jar_on_this_machine_refused_or_lying_leaves_nothing_behind(
    local_repo: LocalRepository, release: Coordinate, tmp_path: Path
) -> None:
    def refuse(jar: Path, folder: Path) -> None:
        raise IntegrityError("not signed by a trusted key")

    cache = Cache(tmp_path / "cache")
    jar = _classpath_copy(local_repo, release, tmp_path)
    with pytest.raises(IntegrityError, match="not signed"):
        fill_model_from_jar(cache, release, jar, refuse)
    assert leftovers(cache, release) == []
    other = Coordinate.parse("com.acme:churn:1.0.7")  # a jar named for a version whose POM it does not embed
    with pytest.raises(IntegrityError, match=r"version '1\.0\.0', but was published as com\.acme:churn:1\.0\.7"):
        fill_model_from_jar(cache, other, jar, lambda local, folder: None)
    assert leftovers(cache, other) == []
    with zipfile.ZipFile(jar, "a") as archive:  # other bytes: another entry, never the first one's
        archive.writestr("model/evil.txt", "x")
    entry = fill_model_from_jar(cache, release, jar, lambda local, folder: None)
    assert (entry / "model" / "evil.txt").is_file()
    assert fill_model(cache, local_repo, release, lambda local, folder, sig: None, str) != entry
