"""The libcurl small-read route (registry.repository.http.multiplexed_reads) against a real nginx: over HTTP/1.1,
and over HTTP/2 on nginx's h2c listener (prior knowledge). The same answers as the ``requests`` route for a file,
a missing file, a file over the size limit and rejected credentials; a search and a catalog make the same requests
over either protocol (counted in nginx's access log)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import pytest
from servers import DavRepo, DavServer
from test_network import Log

from registry.catalog import build_catalog
from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, AuthenticationFailed, IntegrityError
from registry.repository import read_back
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http import multiplexed_reads
from registry.repository.http.multiplexed_reads import MultiplexedReader
from registry.repository.http.repository import HttpRepository
from registry.repository.http.request_settings import Endpoint
from registry.repository.http.session import RequestsTransport
from registry.search import Query, search
from registry.settings import Settings
from registry.store import Cache

LIMIT = 4096
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def repo(nginx_server: DavServer, dav_repo_factory: Callable[[str, str], DavRepo]) -> DavRepo:
    repo = dav_repo_factory("nginx", "multiplexed")
    repo.root.mkdir(parents=True, exist_ok=True)
    (repo.root / "card.json").write_bytes(b'{"card": 1}' * 100)
    (repo.root / "large.bin").write_bytes(b"x" * (LIMIT + 1))
    return repo


def _url(repo: DavRepo, server: DavServer, http2: bool) -> str:
    return repo.url.replace(f":{server.port}/", f":{server.http2_port}/") if http2 else repo.url


@pytest.fixture(params=["http/1.1", "http/2"])
def reader(request: pytest.FixtureRequest, nginx_server: DavServer, repo: DavRepo) -> Iterator[MultiplexedReader]:
    http2 = request.param == "http/2"
    reader = MultiplexedReader(_endpoint(repo, nginx_server, http2, repo.password), limit=LIMIT, keep=4)
    yield reader
    reader.close()


def _endpoint(repo: DavRepo, server: DavServer, http2: bool, password: str) -> Endpoint:
    config = RepositoryConfig(
        name="r", url=_url(repo, server, http2), timeout=10, http2="prior-knowledge" if http2 else "alpn"
    )
    return Endpoint(config, Credentials("the test", repo.username, password), "", 0)


def _requests_route(repo: DavRepo, password: str | None = None) -> RequestsTransport:
    config = RepositoryConfig(name="r", url=repo.url)
    credentials = Credentials(username=repo.username, password=password or repo.password, source="the test")
    return RequestsTransport(Endpoint(config, credentials, "check the password", retries=0))


def test_the_same_answers_as_the_requests_route(
    reader: MultiplexedReader, repo: DavRepo, nginx_server: DavServer
) -> None:
    session = _requests_route(repo)
    try:
        content, etag = session.get_small("card.json")
        assert reader.get("card.json") == (200, content, etag)
        assert reader.get_many(["card.json", "missing.json", "card.json"]) == [
            (200, content, etag), (404, b"", None), (200, content, etag),
        ]  # fmt: skip
        with pytest.raises(ArtifactNotFound):
            session.get_small("missing.json")
        assert reader.get("missing.json") == (404, b"", None)
        assert reader.get("large.bin") is None  # over the limit: the full transport reads it, or refuses it
    finally:
        session.close()
    lines = Log(nginx_server, repo).lines()
    protocol = "HTTP/2.0" if f":{nginx_server.http2_port}/" in reader._base else "HTTP/1.1"
    cards = [line for line in lines if "card.json" in line]
    assert len(cards) == 4 and sum(protocol in line for line in cards[1:]) == 3  # 1 by requests, 3 by libcurl


def test_rejected_credentials_are_left_to_the_requests_route(nginx_server: DavServer, repo: DavRepo) -> None:
    for http2 in (False, True):
        reader = MultiplexedReader(_endpoint(repo, nginx_server, http2, "not-" + repo.password), limit=LIMIT, keep=4)
        try:
            assert reader.get("card.json") is None  # a 401: not an answer this route takes
            assert reader.get_many(["card.json"]) == [None]
        finally:
            reader.close()
    session = _requests_route(repo, password="not-" + repo.password)
    try:
        with pytest.raises(AuthenticationFailed, match="check the password"):
            session.get_small("card.json")
    finally:
        session.close()


def test_a_header_value_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    for value in ("Bearer abc\r\nX-Injected: 1", "Bearer abc\nX: 1", "Bearer a\0b"):
        with pytest.raises(ValueError, match="Authorization"):
            MultiplexedReader(
                Endpoint(RepositoryConfig("r", "http://127.0.0.1:9/"), None, "", 0), {"Authorization": value}
            )


def _deployed(
    repo: DavRepo, builds: int, make_model: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> tuple[DavRepo, Settings]:
    """``repo`` holding ``builds`` builds of com.acme:churn:1.0, and the settings that reach it."""
    monkeypatch.setenv("REGISTRY_USERNAME", repo.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", repo.password)
    settings = Settings.load()
    for _ in range(builds):
        deploy(make_model("zero"), "com.acme:churn:1.0", repository=repo.url, settings=settings)
    return repo, settings


def test_search_and_catalog_make_the_same_requests_over_http2_as_over_http11(
    nginx_server: DavServer,
    dav_repo_factory: Callable[[str, str], DavRepo],
    make_model: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, settings = _deployed(dav_repo_factory("nginx-immutable", "searched"), 3, make_model, monkeypatch)
    log = Log(nginx_server, repo)
    seen: dict[bool, tuple[list[str], list[str]]] = {}
    for http2 in (False, True):
        config = RepositoryConfig(
            name="h2" if http2 else "h1",
            url=_url(repo, nginx_server, http2),
            http2="prior-knowledge" if http2 else "alpn",
        )
        cold = dataclasses.replace(settings, cache_dir=tmp_path / f"cold-{http2}")
        repository = HttpRepository(config, Credentials("the test", repo.username, repo.password))
        try:
            log.mark()
            assert len(search("com.acme:churn", Query(), repository=repository, settings=cold)) == 3
            searched = log.since()
            cold = dataclasses.replace(settings, cache_dir=tmp_path / f"catalog-{http2}")
            log.mark()
            build_catalog(
                tmp_path / f"site-{http2}", repository=repository, settings=cold, artifacts=["com.acme:churn"], now=NOW
            )
            seen[http2] = (sorted(searched), sorted(log.since()))
        finally:
            repository.close()
        lines = Log(nginx_server, repo).lines()[-5:]
        assert all(("HTTP/2.0" if http2 else "HTTP/1.1") in line for line in lines), lines
    assert len(seen[False][0]) == 1 + 3 * 2  # the metadata, and each card with its checksum
    assert seen[True] == seen[False]


def test_a_card_refused_as_it_comes_over_http2_fails_search_and_catalog_and_is_never_cached(
    nginx_server: DavServer,
    dav_repo_factory: Callable[[str, str], DavRepo],
    make_model: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The newest version's card is asked for first, so it comes (and is verified) while the others still travel
    repo, settings = _deployed(dav_repo_factory("nginx-immutable", "tampered"), 12, make_model, monkeypatch)
    newest = Coordinate.parse("com.acme:churn:1.0.11")
    card = repo.root / newest.path("json", "model")
    card.write_bytes(card.read_bytes().replace(b"1.0.11", b"1.0.99"))  # its .sha512 says what was deployed
    config = RepositoryConfig(name="h2", url=_url(repo, nginx_server, True), http2="prior-knowledge")
    repository = HttpRepository(config, Credentials("the test", repo.username, repo.password))
    cold = dataclasses.replace(settings, cache_dir=tmp_path / "cold")
    try:
        with pytest.raises(IntegrityError, match=r"Checksum mismatch for churn-1\.0\.11-model\.json"):
            search("com.acme:churn", Query(), repository=repository, settings=cold)
        cache = Cache(cold.cache_dir)
        assert cache.served(repository.origin, newest, card.name) is None  # refused: never cached
        assert cache.served(repository.origin, Coordinate.parse("com.acme:churn:1.0.0"), "churn-1.0.0-model.json")
        with pytest.raises(IntegrityError, match=r"Checksum mismatch for churn-1\.0\.11-model\.json"):
            build_catalog(tmp_path / "site", repository=repository, settings=cold, artifacts=["com.acme:churn"])
        assert not (tmp_path / "site").exists()
    finally:
        repository.close()


def test_answers_handed_over_as_they_come_are_the_batch_s_every_one_once(
    reader: MultiplexedReader, repo: DavRepo
) -> None:
    names = [f"file-{n}.json" for n in range(41)]
    for name in names[::2]:
        (repo.root / name).write_bytes(name.encode() * 3)
    chunks = list(reader.get_as_ready(names))
    handed = [pair for chunk in chunks for pair in chunk]
    assert sorted(index for index, _ in handed) == list(range(len(names)))
    expected = {n: (200, name.encode() * 3) if n % 2 == 0 else (404, b"") for n, name in enumerate(names)}
    assert {index: answer[:2] if answer else answer for index, answer in handed} == expected
    assert list(reader.get_as_ready([])) == []


_WITHOUT_PYCURL = (
    "import sys\n"
    "sys.modules['pycurl'] = None  # as where no wheel could be installed: importing it raises ImportError\n"
    "from registry.repository.config import Credentials, RepositoryConfig\n"
    "from registry.repository.http.repository import HttpRepository\n"
    "repository = HttpRepository(RepositoryConfig('r', sys.argv[1]), Credentials('t', sys.argv[2], sys.argv[3]))\n"
    "print(repository.read_files(['card.json', 'missing.json'])[1], len(repository.read('card.json')))\n"
    "print(type(repository.transport._reader()).__name__)\n"
)


def test_without_pycurl_small_reads_fall_back_to_our_own_reader(nginx_server: DavServer, repo: DavRepo) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PYCURL, repo.url, repo.username, repo.password],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["None 1100", "SmallFileReader"]


@pytest.mark.parametrize("http2", [False, True], ids=["http/1.1", "http/2"])
def test_reads_go_on_when_the_process_holds_over_a_thousand_descriptors(
    nginx_server: DavServer, repo: DavRepo, http2: bool
) -> None:
    # select() and curl_multi_fdset() take no descriptor numbered 1024 or more: a server process with many
    # connections open gives the reader's pipe and sockets such numbers.
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    reader = MultiplexedReader(_endpoint(repo, nginx_server, http2, repo.password), limit=LIMIT, keep=4)
    try:
        content = (repo.root / "card.json").read_bytes()
        answers = reader.get_many(["card.json"] * 20 + ["missing.json"])
        assert [a[:2] if a else a for a in answers] == [(200, content)] * 20 + [(404, b"")]
        assert reader.get("card.json") is not None  # and the reader still serves
    finally:
        reader.close()
        for fd in held:
            os.close(fd)


def test_a_batch_larger_than_libcurl_holds_at_once_is_answered_whole_and_in_order(
    reader: MultiplexedReader, repo: DavRepo
) -> None:
    # libcurl looks at every handle it holds each time it runs: a batch is handed over a window at a time (two
    # reads per HTTP/1.1 connection, a stream each on HTTP/2), and the handles of finished reads carry the next
    at_once = reader._at_once
    names = [f"file-{n}.json" for n in range(3 * min(at_once, 40) + 1)]
    for name in names[::2]:
        (repo.root / name).write_bytes(name.encode() * 3)
    answers = reader.get_many(names)
    expected = [(200, name.encode() * 3) if n % 2 == 0 else (404, b"") for n, name in enumerate(names)]
    assert [a[:2] if a else a for a in answers] == expected
    assert len(reader._handles) <= at_once  # handles made: no more than a window's


def _driver_alive(reader: MultiplexedReader) -> threading.Thread | None:
    driver = reader._driver
    return driver if driver is not None and driver in threading.enumerate() else None


def test_the_driving_thread_ends_when_idle_and_starts_again_on_the_next_read(
    reader: MultiplexedReader, repo: DavRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multiplexed_reads, "IDLE_EXIT", 0.3)
    content = (repo.root / "card.json").read_bytes()
    assert reader.get("card.json") == (200, content, mock.ANY)
    first = _driver_alive(reader)
    assert first is not None
    first.join(5)  # never closed: it ends by itself once no read came for IDLE_EXIT
    assert first not in threading.enumerate() and reader._driver is None
    assert reader.get("card.json") == (200, content, mock.ANY)  # a new driver, the same connections
    assert reader.get_many(["missing.json", "card.json"]) == [(404, b"", None), (200, content, mock.ANY)]
    second = _driver_alive(reader)
    assert second is not None and second is not first


def test_no_read_is_lost_or_held_while_the_driving_thread_ends(
    nginx_server: DavServer, repo: DavRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The driver ends after 5 ms without reads: readers that come back after 0 to 10 ms hit its end again and
    # again. A read queued as it decides to end must be run by it or by the next one, never dropped (nor left for
    # a later read to pick up: four readers have one thread each, four threads share a fifth).
    monkeypatch.setattr(multiplexed_reads, "IDLE_EXIT", 0.005)
    endpoint = _endpoint(repo, nginx_server, False, repo.password)
    endpoint = dataclasses.replace(endpoint, config=dataclasses.replace(endpoint.config, timeout=1))
    readers = [MultiplexedReader(endpoint) for _ in range(5)]
    content = (repo.root / "card.json").read_bytes()
    drivers: set[threading.Thread] = set()

    def reads(seed: int) -> list[object]:
        reader, pace = readers[min(seed, 4)], random.Random(seed)
        answers: list[object] = []
        for _ in range(150):
            time.sleep(pace.uniform(0.002, 0.008))
            answer = reader.get("card.json") if pace.random() < 0.7 else reader.get_many(["card.json"])[0]
            answers.append(answer[:2] if answer else answer)
            driver = reader._driver
            if driver is not None:
                drivers.add(driver)
        return answers

    try:
        with ThreadPoolExecutor(8) as pool:
            answers = [a for thread in pool.map(reads, range(8)) for a in thread]
        assert answers == [(200, content)] * 1200  # no None: none went to the full transport, none timed out
        assert len(drivers) > 10  # the drivers did end and start again meanwhile
    finally:
        for reader in readers:
            reader.close()


class _ReadAsTheDriverEnds:
    """The reader's lock, through which a read is sent the moment the driving thread decides to end (it takes the
    lock for that alone): the read is queued after the driver last looked at its queue, before it ends."""

    def __init__(self, reader: MultiplexedReader, path: str) -> None:
        self._reader, self._path, self._lock = reader, path, reader._lock
        self.late: threading.Thread | None = None
        self.answers: list[object] = []

    def __enter__(self) -> bool:
        if threading.current_thread().name == "small-reads" and self.late is None:
            late = threading.Thread(target=lambda: self.answers.append(self._reader.get(self._path)))
            late.start()
            self.late = late
            while not self._reader._queue and late.is_alive():
                time.sleep(0.001)
        return self._lock.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._lock.__exit__(*exc)  # type: ignore[arg-type]


def test_a_read_sent_as_the_driving_thread_ends_is_answered(
    nginx_server: DavServer, repo: DavRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multiplexed_reads, "IDLE_EXIT", 0.05)
    endpoint = _endpoint(repo, nginx_server, False, repo.password)
    reader = MultiplexedReader(dataclasses.replace(endpoint, config=dataclasses.replace(endpoint.config, timeout=1)))
    content = (repo.root / "card.json").read_bytes()
    try:
        race = _ReadAsTheDriverEnds(reader, "card.json")
        monkeypatch.setattr(reader, "_lock", race)
        assert reader.get("missing.json") == (404, b"", None)  # starts the driver; it ends 50 ms later
        deadline = time.monotonic() + 5
        while race.late is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert race.late is not None, "the driver never ended"
        race.late.join(15)
        assert race.answers == [(200, content, mock.ANY)]  # answered, not left in the queue until its patience ran out
    finally:
        reader.close()


@pytest.mark.parametrize("http2", [False, True], ids=["http/1.1", "http/2"])
def test_a_read_ahead_serves_the_next_read_of_its_path_once(
    nginx_server: DavServer, repo: DavRepo, http2: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = RepositoryConfig(
        name="r", url=_url(repo, nginx_server, http2), http2="prior-knowledge" if http2 else "alpn"
    )
    repository = HttpRepository(config, Credentials("the test", repo.username, repo.password))
    log = Log(nginx_server, repo)
    (repo.root / "ahead.json").write_bytes(b'{"ahead": 1}')
    try:
        log.mark()
        repository.read_ahead(["ahead.json", "missing.json"])
        deadline = time.monotonic() + 10
        while len(log.since()) < 2 and time.monotonic() < deadline:  # sent and answered before anything is read
            time.sleep(0.02)
        assert sorted(log.since()) == ["GET ahead.json", "GET missing.json"]
        (repo.root / "ahead.json").write_bytes(b'{"ahead": 2}')
        assert repository.read("ahead.json") == b'{"ahead": 1}'  # the answer read ahead: no request of its own
        with pytest.raises(ArtifactNotFound):
            repository.read("missing.json")
        assert len(log.since()) == 2
        assert repository.read("ahead.json") == b'{"ahead": 2}'  # once: the next read asks
        assert len(log.since()) == 3
        monkeypatch.setattr(read_back, "AHEAD_KEPT", 0.0)
        repository.read_ahead(["ahead.json"])
        (repo.root / "ahead.json").write_bytes(b'{"ahead": 3}')
        assert repository.read("ahead.json") == b'{"ahead": 3}'  # read ahead too long ago: asked again
    finally:
        repository.close()
