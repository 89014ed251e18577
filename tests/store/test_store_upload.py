"""A version's files into a real local repository (:mod:`registry.store.upload`, and a deploy through it): the main
file appears only once every other file is in place, and the metadata that lists the version is written last."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.promotion import PromotionLog
from registry.repository.base import PathExists, Source
from registry.repository.local import LocalRepository
from registry.store import upload_version

VERSION = Coordinate.parse("com.acme:churn:1.0.0")
JAR = VERSION.path("jar")
SMALL = [(VERSION.path(extension), extension.encode()) for extension in ("pom", "pom.sha512", "json")]


class Recording(LocalRepository):
    """Records each write as it ends (``create`` and ``update``), small files slowed down a little."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.ended: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def create(self, path: str, source: Source) -> None:
        if not path.endswith(".jar"):
            time.sleep(0.02)
        super().create(path, source)
        with self.lock:
            self.ended.append(("create", path))

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        written = super().update(path, change)
        with self.lock:
            self.ended.append(("update", path))
        return written


def test_the_main_file_is_created_after_every_other_file(tmp_path: Path) -> None:
    repository = Recording(tmp_path / "repo")
    checksums = [(f"{JAR}.sha512", b"digest")]
    ready: list[int] = []
    upload_version(repository, SMALL, JAR, lambda: (b"jar", checksums), when_ready=lambda: ready.append(1))
    paths = [path for _, path in repository.ended]
    assert paths[-1] == JAR
    assert sorted(paths[:-1]) == sorted(path for path, _ in [*SMALL, *checksums])
    assert ready == [1]


def test_a_failed_upload_leaves_no_main_file_and_raises(tmp_path: Path) -> None:
    repository = Recording(tmp_path / "repo")
    repository.create(SMALL[1][0], b"taken")  # another deploy's file
    with pytest.raises(PathExists):
        upload_version(repository, SMALL, JAR, lambda: (b"jar", []))
    assert not repository.exists(JAR)
    assert repository.exists(SMALL[0][0]) and repository.exists(SMALL[2][0])  # every upload was waited for


def test_a_deploy_writes_the_metadata_last(tmp_path: Path, make_model: Callable[..., Path]) -> None:
    repository = Recording(tmp_path / "repo")
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=repository)
    assert repository.ended[-1] == ("update", coordinate.module.metadata_path)
    # the artifact's first deploy: its empty promotion log, before the metadata
    assert ("update", PromotionLog.path(coordinate.module)) in repository.ended[:-1]
    creates = [path for kind, path in repository.ended if kind == "create" and path.startswith(coordinate.directory)]
    assert creates[-1] == coordinate.path("jar")
    assert len(creates) > 5  # the pom, the card, their checksums
