"""``Repository.read_many``: reads of one command at once, as many as the repository serves best, in order, every
read waited for and the first failure raised."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from registry.exceptions import ArtifactNotFound
from registry.repository.config import RepositoryConfig
from registry.repository.http.repository import HttpRepository
from registry.repository.http.request_settings import POOL_SIZE, UPLOAD_CONNECTIONS
from registry.repository.local import LocalRepository


class Gauge:
    """Counts the reads running at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.ended: list[str] = []

    def __enter__(self) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.running -= 1


@pytest.fixture
def files(local_repo: LocalRepository) -> list[str]:
    paths = [f"com/acme/churn/1.0.{n}/churn-1.0.{n}.pom" for n in range(40)]
    for path in paths:
        local_repo.create(path, path.encode())
    return paths


def test_results_come_in_the_order_asked_whatever_order_the_reads_end_in(
    local_repo: LocalRepository, files: list[str]
) -> None:
    def read(path: str) -> bytes:
        time.sleep(0.001 * (40 - files.index(path)))  # the first asked ends last
        return local_repo.read(path)

    assert local_repo.read_many(read, files) == [path.encode() for path in files]


def test_no_more_reads_run_at_once_than_the_repository_serves(local_repo: LocalRepository, files: list[str]) -> None:
    gauge = Gauge()

    def read(path: str) -> bytes:
        with gauge:
            time.sleep(0.01)
            return local_repo.read(path)

    local_repo.read_width = 3
    local_repo.read_many(read, files)
    assert gauge.most == 3


def test_the_first_failure_is_raised_once_every_started_read_has_ended(
    local_repo: LocalRepository, files: list[str]
) -> None:
    gauge = Gauge()
    started: list[str] = []
    asked = [*files[:5], "com/acme/churn/9.9.9/absent.pom", *files[5:]]

    def read(path: str) -> bytes:
        started.append(path)
        with gauge:
            time.sleep(0.02)
            return local_repo.read(path)

    local_repo.read_width = 4
    with pytest.raises(ArtifactNotFound, match=re.escape("absent.pom")):
        local_repo.read_many(read, asked)
    assert gauge.running == 0  # nothing still reading behind the caller's back
    assert len(started) < len(asked)  # the reads not yet started were dropped


def test_no_item_starts_no_thread(local_repo: LocalRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_threads(*args: object, **kwargs: object) -> None:
        raise AssertionError("a thread pool was asked to run something")

    monkeypatch.setattr(ThreadPoolExecutor, "submit", no_threads)
    assert local_repo.read_many(local_repo.read, []) == []


def test_an_http_repository_reads_on_as_many_threads_as_it_keeps_connections(tmp_path: Path) -> None:
    http = HttpRepository(RepositoryConfig(name="r", url="http://127.0.0.1:1/maven"))
    assert (http.read_width, http.write_width) == (POOL_SIZE, UPLOAD_CONNECTIONS)
    assert LocalRepository(tmp_path).read_width < POOL_SIZE  # the disk: a few threads
