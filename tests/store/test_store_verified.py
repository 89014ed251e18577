"""Reads checked against the strongest checksum a repository offers (:mod:`registry.store.verified`), on a real
local repository: what they cost, and that a file whose checksum does not match is refused and never cached."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from cardhelpers import CountingRepository

from registry.checksums import digest_bytes
from registry.coordinates import Coordinate
from registry.exceptions import ArtifactNotFound, IntegrityError
from registry.repository.local import LocalRepository
from registry.store import Cache, fetch_verified, read_many_verified, read_verified, remote_checksum

CARD = Coordinate.parse("com.acme:churn:1.0.0")
PATH = CARD.path("json", "model")
WHAT = "the card of com.acme:churn:1.0.0"


def plant(repository: LocalRepository, path: str, data: bytes, sidecars: tuple[str, ...] = ("sha512",)) -> None:
    for extension, content in digest_bytes(data).sidecars():
        if extension in sidecars:
            repository.create(f"{path}.{extension}", content)
    repository.create(path, data)


def test_a_file_costs_its_read_and_its_sha512_then_nothing_once_cached(
    local_repo: LocalRepository, tmp_path: Path
) -> None:
    plant(local_repo, PATH, b'{"card": 1}')
    counting, cache = CountingRepository(local_repo), Cache(tmp_path / "cache")
    assert read_verified(counting, CARD, PATH, WHAT, cache=cache) == b'{"card": 1}'
    assert sorted(path for _, path in counting.calls) == [PATH, f"{PATH}.sha512"]
    counting.calls.clear()
    assert read_verified(counting, CARD, PATH, WHAT, cache=Cache(tmp_path / "cache")) == b'{"card": 1}'
    assert counting.calls == []


def test_a_file_that_does_not_match_its_checksum_is_refused_and_not_cached(
    local_repo: LocalRepository, tmp_path: Path
) -> None:
    local_repo.create(f"{PATH}.sha512", digest_bytes(b"what was deployed").sha512.encode())
    local_repo.create(PATH, b"what is served")
    cache = Cache(tmp_path / "cache")
    with pytest.raises(IntegrityError, match=re.escape(WHAT)):
        read_verified(local_repo, CARD, PATH, WHAT, cache=cache)
    assert cache.served(local_repo.origin, CARD, PATH.rsplit("/", 1)[-1]) is None
    assert not (tmp_path / "cache").exists()


def test_the_strongest_checksum_offered_is_used(local_repo: LocalRepository) -> None:
    plant(local_repo, PATH, b"card", sidecars=("sha1", "md5"))
    assert remote_checksum(local_repo, PATH, WHAT)[0] == "sha1"
    assert read_verified(local_repo, CARD, PATH, WHAT) == b"card"


def test_a_file_without_any_checksum_is_refused_and_a_missing_one_is_not_found(local_repo: LocalRepository) -> None:
    local_repo.create(PATH, b"card")
    with pytest.raises(IntegrityError, match="has no checksum file"):
        read_verified(local_repo, CARD, PATH, WHAT)
    with pytest.raises(ArtifactNotFound, match="does not exist"):
        remote_checksum(local_repo, CARD.path("jar"), "the jar")


def test_a_download_that_does_not_match_is_removed(local_repo: LocalRepository, tmp_path: Path) -> None:
    jar = CARD.path("jar")
    local_repo.create(f"{jar}.sha512", digest_bytes(b"the deployed jar").sha512.encode())
    local_repo.create(jar, b"another jar")
    destination = tmp_path / "churn.jar"
    with pytest.raises(IntegrityError):
        fetch_verified(local_repo, jar, destination, "the jar")
    assert not destination.exists()
    plant(local_repo, CARD.path("pom"), b"<project/>", sidecars=("sha1", "md5"))
    digests = fetch_verified(local_repo, CARD.path("pom"), tmp_path / "churn.pom", "the pom", every=("sha1", "md5"))
    assert digests.get("md5") == digest_bytes(b"<project/>").get("md5")


def test_many_files_at_once_absent_ones_none_and_a_refused_one_keeps_those_verified_before(
    local_repo: LocalRepository, tmp_path: Path
) -> None:
    coordinates = [Coordinate.parse(f"com.acme:churn:1.0.{n}") for n in range(4)]
    files = [(c, c.path("json", "model"), f"the card of {c}") for c in coordinates]
    plant(local_repo, files[0][1], b"card 0")
    plant(local_repo, files[2][1], b"card 2")  # 1.0.1 has none
    local_repo.create(f"{files[3][1]}.sha512", digest_bytes(b"card 3").sha512.encode())
    local_repo.create(files[3][1], b"card 3, changed")
    cache = Cache(tmp_path / "cache")
    with pytest.raises(IntegrityError, match=re.escape("the card of com.acme:churn:1.0.3")):
        read_many_verified(local_repo, files, cache=cache)
    counting = CountingRepository(local_repo)
    cards, beside = read_many_verified(counting, files[:3], cache=Cache(tmp_path / "cache"), beside=[lambda: 42])
    assert (cards, beside) == ([b"card 0", None, b"card 2"], [42])
    assert sorted(path for _, path in counting.calls) == [files[1][1], f"{files[1][1]}.sha512"]  # the absent one


class AnswersBackwards(LocalRepository):
    """A repository that hands its answers over one file at a time, the last asked first (as a server that answers
    in its own order), noting each hand-over in ``events``."""

    def __init__(self, root: Path, events: list[str]) -> None:
        super().__init__(root)
        self.events = events

    def read_files_as_ready(self, paths: Sequence[str]) -> Iterator[list[tuple[int, bytes | None]]]:
        contents = self.read_files(paths)
        for at in reversed(range(len(paths))):
            self.events.append(f"came {paths[at].rsplit('/', 1)[-1]}")
            yield [(at, contents[at])]


def test_each_file_is_verified_as_it_comes_and_the_first_refused_in_order_is_raised_whatever_came_first(
    local_repo: LocalRepository, tmp_path: Path
) -> None:
    coordinates = [Coordinate.parse(f"com.acme:churn:1.0.{n}") for n in range(4)]
    files = [(c, c.path("json", "model"), f"the card of {c}") for c in coordinates]
    for n, (_, path, _) in enumerate(files):
        local_repo.create(f"{path}.sha512", digest_bytes(f"card {n}".encode()).sha512.encode())
        local_repo.create(path, f"card {n}".encode() if n in (0, 2) else b"changed")  # 1.0.1 and 1.0.3 refused
    events: list[str] = []
    backwards, cache = AnswersBackwards(local_repo.root, events), Cache(tmp_path / "cache")
    with pytest.raises(IntegrityError, match=re.escape("the card of com.acme:churn:1.0.1 ")):
        read_many_verified(backwards, files, cache=cache, each=lambda index, data: events.append(f"verified {index}"))
    # 1.0.3's card came (and was refused) first, yet 1.0.1's refusal is raised: the first in order, as before
    assert events.index("verified 2") < events.index("came churn-1.0.0-model.json")  # not after the last answer
    assert [e for e in events if e.startswith("verified")] == ["verified 2", "verified 0"]
    name = files[0][1].rsplit("/", 1)[-1]
    assert Cache(tmp_path / "cache").served(local_repo.origin, coordinates[0], name) is not None
    for refused in (1, 3):
        name = files[refused][1].rsplit("/", 1)[-1]
        assert Cache(tmp_path / "cache").served(local_repo.origin, coordinates[refused], name) is None
