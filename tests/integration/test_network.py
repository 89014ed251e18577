"""Across a slow link (benchmarks/latency_proxy.py in front of nginx refusing overwrites): how many requests each
command makes, counted in nginx's access log, and one clear error within the timeout when the link stalls.
No timings are asserted; benchmarks/network.py measures them."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cardhelpers import gbt_pipeline
from gpgtools import Keys
from servers import DavRepo, DavServer

from registry.cards import read_card
from registry.catalog import build_catalog
from registry.deploy import deploy
from registry.exceptions import ModelChanged, RepositoryUnavailable
from registry.fsck import check
from registry.modelcard import ModelCard
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http.repository import HttpRepository
from registry.resolve import resolve
from registry.search import Query, search
from registry.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from latency_proxy import LatencyProxy

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)  # the catalog's "generated at": one page, run twice


@pytest.fixture
def repo(nginx_server: DavServer, dav_repo_factory: Callable[[str, str], DavRepo]) -> DavRepo:
    return dav_repo_factory("nginx-immutable", "network")


@pytest.fixture
def slow(nginx_server: DavServer, repo: DavRepo, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The repository's URL through a link with a 10 ms round trip."""
    monkeypatch.setenv("REGISTRY_USERNAME", repo.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", repo.password)
    with LatencyProxy(nginx_server.port, delay_ms=5) as proxy:
        yield repo.url.replace(f":{nginx_server.port}/", f":{proxy.port}/")


class Log:
    """The lines nginx logs for one repository."""

    def __init__(self, server: DavServer, repo: DavRepo) -> None:
        self.file = server.workdir / "access.log"
        self.prefix = " " + repo.url.split(f":{server.port}", 1)[1]
        self.base = f"http://127.0.0.1:{server.port}{self.prefix.strip()}"
        self.start = 0
        self.marks = 0

    def lines(self) -> list[str]:
        """The repository's lines, once nginx has logged every request answered so far.

        nginx writes a line after answering its request: a marker request sent now is logged after all of them,
        so its line appearing means theirs are there."""
        self.marks += 1
        marker = f"__logged_{os.getpid()}_{self.marks}__"
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(self.base + marker, timeout=10)  # a 404, logged like any request
        deadline = time.monotonic() + 10
        while True:
            lines = [line for line in self.file.read_text().splitlines() if self.prefix in line]
            if any(marker in line for line in lines):
                return [line for line in lines if "__logged_" not in line]
            assert time.monotonic() < deadline, f"nginx never logged {marker}"
            time.sleep(0.01)

    def mark(self) -> None:
        self.start = len(self.lines())

    def since(self) -> list[str]:
        """``METHOD path`` of each request since :meth:`mark`."""
        return [
            line.split('"')[1].rsplit(" ", 1)[0].replace(self.prefix.strip(), "") for line in self.lines()[self.start :]
        ]


def test_requests_of_each_command_across_a_slow_link(
    slow: str, nginx_server: DavServer, repo: DavRepo, make_model: Callable[..., Path]
) -> None:
    settings = Settings.load()
    log = Log(nginx_server, repo)
    deploy(make_model("zero"), "com.acme:churn:1.0", repository=slow, settings=settings)  # probes the server

    log.mark()
    deploy(make_model("one"), "com.acme:churn:1.0", repository=slow, settings=settings)
    requests = log.since()
    # The metadata; the claim (MKCOL); the POM, card and jar with 4 checksums each, at once; the metadata under a
    # folder lock: lock, read, write it with its 4 checksums at once, unlock (under the lock, no read-back). The
    # server's traits and the previous card (the series check) come from the cache.
    assert sorted(requests) == sorted(
        [
            "GET com/acme/churn/maven-metadata.xml",
            "MKCOL com/acme/churn/1.0.1/",
            *(f"PUT com/acme/churn/1.0.1/churn-1.0.1{ext}{sum}" for ext in (".pom", "-model.json", ".jar")
              for sum in ("", ".md5", ".sha1", ".sha256", ".sha512")),
            "MKCOL com/acme/churn/.maven-metadata.xml.lock/",
            "GET com/acme/churn/maven-metadata.xml",
            "PUT com/acme/churn/maven-metadata.xml",
            *(f"PUT com/acme/churn/maven-metadata.xml.{sum}" for sum in ("md5", "sha1", "sha256", "sha512")),
            "DELETE com/acme/churn/.maven-metadata.xml.lock/",
        ]
    ), requests  # fmt: skip
    assert requests.index("PUT com/acme/churn/1.0.1/churn-1.0.1.jar") > requests.index("MKCOL com/acme/churn/1.0.1/")
    assert requests.index("PUT com/acme/churn/maven-metadata.xml") > max(
        i for i, r in enumerate(requests) if "/1.0.1/" in r
    )

    log.mark()
    assert str(resolve("com.acme:churn:latest.release", repository=slow, settings=settings).coordinate).endswith("1")
    assert sorted(log.since()) == [
        "GET com/acme/churn/1.0.1/churn-1.0.1.jar",
        "GET com/acme/churn/1.0.1/churn-1.0.1.jar.asc",
        "GET com/acme/churn/1.0.1/churn-1.0.1.jar.sha512",
        "GET com/acme/churn/maven-metadata.xml",
    ]  # cold: the selection, then the jar, its checksum and its signature (here none: a 404) at once
    log.mark()
    resolve("com.acme:churn:latest.release", repository=slow, settings=settings)
    assert log.since() == ["GET com/acme/churn/maven-metadata.xml"]  # warm: the selection only
    log.mark()
    resolve("com.acme:churn:1.0.1", repository=slow, settings=settings)
    assert log.since() == []  # an exact version in the cache: a release never changes

    log.mark()
    assert len(search("com.acme:churn", Query(), repository=slow, settings=settings)) == 2
    assert log.since() == ["GET com/acme/churn/maven-metadata.xml"]  # the deploys cached their cards
    cold = dataclasses.replace(settings, cache_dir=settings.cache_dir.with_name("cold-cache"))
    log.mark()
    assert len(search("com.acme:churn", Query(), repository=slow, settings=cold)) == 2
    assert len(log.since()) == 1 + 2 * 2  # the metadata, and each card with its checksum


_WARM_SEARCH = (
    "import sys\n"
    "from registry.search import Query, search\n"
    "found = search('com.acme:churn', Query(), repository=sys.argv[1])\n"
    "print(len(found), 'requests' in sys.modules, 'urllib3' in sys.modules)\n"
)


def test_a_warm_search_starts_without_requests_unless_the_environment_needs_it(
    slow: str, make_model: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests and urllib3 cost ~70 ms of every start; a warm search reads one file, the metadata, which the
    # small-file reader sends exactly as requests would. A proxy variable (or a .netrc, a CA bundle variable) is
    # read by requests itself: then it is imported, and the reader is set up from the request it prepares.
    for _ in range(2):
        deploy(make_model("zero"), "com.acme:churn:1.0", repository=slow)
    environment = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for extra, imported in (({}, "False False"), ({"FTP_PROXY": "http://127.0.0.1:9/"}, "True True")):
        done = subprocess.run(
            [sys.executable, "-c", _WARM_SEARCH, slow],
            env={**environment, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["2", *imported.split()]


def test_a_stalled_link_ends_in_one_clear_error_within_the_timeout(
    nginx_server: DavServer, repo: DavRepo, make_model: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_USERNAME", repo.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", repo.password)
    deploy(make_model("zero"), "com.acme:churn:1.0", repository=repo.url)  # the server's probe is cached
    config = Settings.load().cache_dir.parent / "config.toml"
    with LatencyProxy(nginx_server.port, delay_ms=4000) as proxy:  # far beyond the timeout
        url = repo.url.replace(f":{nginx_server.port}/", f":{proxy.port}/")
        config.write_text(f'[repositories.slow]\nurl = "{url}"\ntimeout = 1\n')
        monkeypatch.setenv("REGISTRY_CONFIG", str(config))
        for action in (
            lambda: deploy(make_model("one"), "com.acme:churn:1.0", repository="slow"),
            lambda: resolve("com.acme:churn:latest.release", repository="slow"),
        ):
            started = time.monotonic()
            with pytest.raises(RepositoryUnavailable, match="did not answer") as caught:
                action()
            assert time.monotonic() - started < 20
            assert "\n" not in str(caught.value)


def test_a_file_found_missing_keeps_its_connection(
    nginx_server: DavServer, repo: DavRepo, make_model: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each show asks for the card's signature (unsigned here: a 404 with a short page) one after another; the page
    # is read so that the connection serves the next request, instead of a new connection (a round trip more,
    # two with TLS) for every file found missing.
    monkeypatch.setenv("REGISTRY_USERNAME", repo.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", repo.password)
    for _ in range(6):
        deploy(make_model("zero"), "com.acme:churn:1.0", repository=repo.url)
    with LatencyProxy(nginx_server.port, delay_ms=1) as proxy:
        url = repo.url.replace(f":{nginx_server.port}/", f":{proxy.port}/")
        with HttpRepository(
            RepositoryConfig(name="slow", url=url), Credentials("env", repo.username, repo.password)
        ) as slow:
            for build in range(6):
                assert read_card(f"com.acme:churn:1.0.{build}", repository=slow).promotion is None
        assert proxy.connections <= 3  # the card and its checksum at once need two; without reuse, 6 more


def test_a_catalog_reads_each_version_once_and_then_asks_only_for_the_metadata_and_its_logs(
    slow: str,
    nginx_server: DavServer,
    repo: DavRepo,
    make_model: Callable[..., Path],
    tmp_path: Path,
    gpg_keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    settings = Settings.load()
    for sign in (False, False, gpg_keys.signer):
        deploy(make_model("zero"), "com.acme:churn:1.0", repository=slow, settings=settings, sign=sign)
    cold = dataclasses.replace(settings, cache_dir=tmp_path / "cold-cache")
    log = Log(nginx_server, repo)
    log.mark()
    build_catalog(tmp_path / "site", repository=slow, settings=cold, artifacts=["com.acme:churn"], now=NOW)
    # card and checksum; no promotion record: the promotion log (created empty by the first deploy) names none
    per_version = ["-model.json", "-model.json.sha512"]
    # which versions are yanked, which have a promotion record: a small read each, read ahead with the metadata
    logs = ["GET com/acme/churn/maven-metadata.xml.yanks.json", "GET com/acme/churn/maven-metadata.xml.promotions.json"]
    assert sorted(log.since()) == sorted(
        ["GET com/acme/churn/maven-metadata.xml", *logs]
        + [f"GET com/acme/churn/1.0.{b}/churn-1.0.{b}{name}" for b in range(3) for name in per_version]
        # the signature of the card whose deploy signed it; those recorded unsigned are shown so without asking
        + ["GET com/acme/churn/1.0.2/churn-1.0.2-model.json.asc"]
    )
    page = (tmp_path / "site" / "com.acme.churn.html").read_text()
    assert page.count(f"model card signed by key {gpg_keys.signer}") == 1
    assert page.count("unsigned") >= 2
    log.mark()
    build_catalog(tmp_path / "site", repository=slow, settings=cold, artifacts=["com.acme:churn"], now=NOW)
    # cards, checks and absent records: all known (the promotion log, read ahead in the same round trip, unused)
    assert sorted(log.since()) == sorted(["GET com/acme/churn/maven-metadata.xml", *logs])
    assert (tmp_path / "site" / "com.acme.churn.html").read_text() == page


def test_a_deploy_with_an_empty_cache_reads_the_previous_card_beside_the_claim(
    slow: str, nginx_server: DavServer, repo: DavRepo, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    settings = Settings.load()

    def model(max_depth: int) -> ModelCard:
        return ModelCard.create("com.acme:churn:1.0", model=gbt_pipeline(max_depth))

    deploy(make_model("zero"), "com.acme:churn:1.0", repository=slow, settings=settings, card=model(5))
    empty = dataclasses.replace(settings, cache_dir=tmp_path / "empty-cache")
    shutil.copytree(settings.cache_dir / "servers", empty.cache_dir / "servers")  # the probe is known, no card
    log = Log(nginx_server, repo)

    log.mark()
    deploy(make_model("one"), "com.acme:churn:1.0", repository=slow, settings=empty, card=model(5))
    requests = log.since()
    # The previous card and its checksum (the series check): two requests more than with the card cached, sent
    # while the build is claimed (test_compatibility shows they never wait for each other).
    card = "GET com/acme/churn/1.0.0/churn-1.0.0-model.json"
    assert len(requests) == 25 + 2 and {card, f"{card}.sha512", "MKCOL com/acme/churn/1.0.1/"} <= set(requests)

    log.mark()
    with pytest.raises(ModelChanged):
        deploy(make_model("two"), "com.acme:churn:1.0", repository=slow, settings=empty, card=model(10))
    # Claimed beside the check, then given back: no build number is retired for nothing, nothing is left for fsck.
    assert sorted(log.since()) == [
        "DELETE com/acme/churn/1.0.2/",
        "GET com/acme/churn/maven-metadata.xml",
        "MKCOL com/acme/churn/1.0.2/",
    ]
    credentials = Credentials("env", repo.username, repo.password)
    with HttpRepository(RepositoryConfig(name="direct", url=repo.url), credentials) as direct:
        assert check(direct, ["com.acme:churn"]).findings == ()
    again = deploy(make_model("two"), "com.acme:churn:1.0", repository=slow, settings=settings, card=model(5))
    assert str(again) == "com.acme:churn:1.0.2"
