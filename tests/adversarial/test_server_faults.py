"""A real misbehaving server (faultserver.py): every fault ends in success after retries or one clear error,
within the configured timeouts, and the cache never keeps a bad file."""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faultserver import Body, FaultyServer, Reset, Silence, Stall, Status
from harness import FIGURES, open_faulty

from registry.checksums import digest_bytes
from registry.coordinates import Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, IntegrityError, RegistryError, RepositoryUnavailable
from registry.fsck import Kind, check
from registry.repository.base import PathExists
from registry.repository.http import session
from registry.repository.local import LocalRepository
from registry.resolve import Resolved, resolve
from registry.store import read_metadata
from registry.versions import Version

CHURN = Module("com.acme", "churn")
METADATA = "com/acme/churn/maven-metadata.xml"
JAR = "com/acme/churn/1.0.1/churn-1.0.1.jar"
DATA = "stages/0_lr/data/part-00000.snappy.parquet"


@pytest.fixture
def served(faulty: FaultyServer, make_model: Callable[..., Path]) -> FaultyServer:
    """The server's tree holds com.acme:churn 1.0.0 and 1.0.1 (a jar of a few hundred KiB)."""
    local = LocalRepository(faulty.root)
    deploy(make_model("zero"), "com.acme:churn:1.0", repository=local)
    big = make_model("one" * 1000)  # ~300 KB of data, so that a reset can happen mid-body
    deploy(big, "com.acme:churn:1.0", repository=local)
    return faulty


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    """The cache of the resolves in a test; at the end it must hold no file but those of verified models."""
    path = tmp_path / "cache"
    yield path
    for file in path.rglob("*") if path.exists() else []:
        if file.is_file() and file.relative_to(path).parts[0] == "served":  # the index names complete entries
            for line in file.read_text().splitlines():
                _, algorithm, digest = line.split()
                assert any((entry / "model").is_dir() for entry in path.rglob(f"{algorithm}-{digest[:40]}")), line
        elif file.is_file():
            entry = next(p for p in file.parents if Version.try_parse(p.parent.name))
            assert not entry.name.startswith("."), f"the cache kept a staging directory: {file}"
            assert (entry / "model").is_dir(), f"the cache kept {file} outside a complete entry"


def _resolve(server: FaultyServer, cache: Path, spec: str = "com.acme:churn:latest.release", **kw: float) -> Resolved:
    return resolve(spec, repository=open_faulty(server, **kw), cache_dir=cache)  # type: ignore[arg-type]


def _fails(
    server: FaultyServer, cache: Path, error: type[RegistryError], match: str, within: float, **kw: float
) -> RegistryError:
    started = time.monotonic()
    with pytest.raises(error, match=match) as caught:
        _resolve(server, cache, **kw)
    elapsed = time.monotonic() - started
    assert elapsed < within, f"took {elapsed:.1f} s"
    assert "\n" not in str(caught.value)
    FIGURES["server faults ending in one clear error"] += 1
    return caught.value


def _survives(server: FaultyServer, cache: Path, within: float, **kw: float) -> None:
    started = time.monotonic()
    resolved = _resolve(server, cache, **kw)
    assert time.monotonic() - started < within
    assert str(resolved.coordinate) == "com.acme:churn:1.0.1"
    assert (resolved.path / DATA).read_text().startswith("oneone")
    FIGURES["server faults survived by retrying"] += 1


# -- survived: urllib3's real retries --------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param((Status(503), Status(503)), id="503-twice"),
        pytest.param((Status(500), Status(502), Status(504)), id="5xx-burst"),
        pytest.param((Reset(), Reset()), id="reset-before-answering-twice"),
        pytest.param((Reset(after=100), Reset(after=10)), id="reset-mid-body-twice"),
        pytest.param((Stall(3.0),), id="no-answer-within-the-timeout-once"),
        pytest.param((Status(503, headers=(("Retry-After", "1"),)),), id="503-retry-after-1s"),
    ],
)
def test_transient_faults_are_retried(served: FaultyServer, cache: Path, faults: tuple[Status, ...]) -> None:
    served.script("GET", METADATA, *faults)
    _survives(served, cache, within=8)
    assert served.requests("GET", METADATA) == len(faults) + 1


def test_a_hostile_retry_after_is_not_obeyed_for_hours(served: FaultyServer, cache: Path) -> None:
    served.script("GET", METADATA, Status(503, headers=(("Retry-After", "86400"),)))
    _survives(served, cache, within=15)


def test_garbage_retry_after_is_one_clear_error(served: FaultyServer, cache: Path) -> None:
    served.always("GET", METADATA, Status(503, headers=(("Retry-After", "soon\x1b[31m"),)))
    error = _fails(served, cache, RepositoryUnavailable, "Retry-After", within=10)
    assert "\x1b" not in str(error)


def test_a_torn_metadata_read_is_read_again(served: FaultyServer, cache: Path) -> None:
    """Apache rewrites maven-metadata.xml in place: a reader can get a torn copy while a deploy writes it."""
    whole = (served.root / METADATA).read_bytes()
    served.script("GET", METADATA, Body(whole[: len(whole) // 2]), Body(b""))
    _survives(served, cache, within=5)
    assert served.requests("GET", METADATA) == 3


def test_a_download_broken_off_is_refused_then_fetched_whole(served: FaultyServer, cache: Path) -> None:
    served.script("GET", JAR, Reset(after=100_000))
    error = _fails(served, cache, RepositoryUnavailable, "broke off after", within=5)
    assert "Nothing was kept" in str(error)
    _survives(served, cache, within=5)


# -- one clear error, within the timeouts ----------------------------------------------------------------


def test_a_server_failing_for_good_is_tried_a_bounded_number_of_times(served: FaultyServer, cache: Path) -> None:
    served.always("GET", METADATA, Status(503, b"<html><h1>Service \x1b[2J Unavailable</h1></html>"))
    error = _fails(served, cache, RepositoryUnavailable, "HTTP 503", within=8, retries=2)
    assert served.requests("GET", METADATA) == 3
    assert "\x1b" not in str(error), "a server's bytes must not reach the terminal as control sequences"


def test_a_server_that_never_answers_times_out(served: FaultyServer, cache: Path) -> None:
    served.always("GET", METADATA, Silence())
    _fails(served, cache, RepositoryUnavailable, "did not answer .* within 1 s", within=4.5, retries=1)


def test_a_body_that_stalls_past_the_timeout(served: FaultyServer, cache: Path) -> None:
    served.always("GET", JAR, Stall(5.0, after=1000))
    _fails(served, cache, RepositoryUnavailable, r"broke off after \d+ bytes \(timed out\)", within=3)


@pytest.mark.parametrize(
    ("fault", "error", "match"),
    [
        pytest.param(Body(b"x" * 1000, length=5000), RepositoryUnavailable, "broke off|cut short", id="short-body"),
        pytest.param(Body(b""), IntegrityError, "Checksum mismatch", id="empty-body"),
        pytest.param(Body(b"PK\x03\x04" + b"\0" * 500), IntegrityError, "Checksum mismatch", id="other-bytes"),
    ],
)
def test_a_wrong_jar_download_is_refused(
    served: FaultyServer, cache: Path, fault: Body, error: type[RegistryError], match: str
) -> None:
    served.always("GET", JAR, fault)
    _fails(served, cache, error, match, within=5)


def test_a_content_length_shorter_than_the_body(served: FaultyServer, cache: Path) -> None:
    """The client reads what was declared (a truncated jar: refused); the rest must not poison the next request."""
    jar = (served.root / JAR).read_bytes()
    served.script("GET", JAR, Body(jar, length=len(jar) // 2))
    _fails(served, cache, IntegrityError, "Checksum mismatch", within=5)
    _survives(served, cache, within=5)


@pytest.mark.parametrize(
    ("sidecar", "fault", "error", "match"),
    [
        pytest.param("sha512", Body(b"0" * 128), IntegrityError, "Checksum mismatch", id="wrong-sha512"),
        pytest.param("sha512", Body(b"<html>Log in</html>"), IntegrityError, "does not hold", id="html-sidecar"),
        pytest.param("sha512", Body(b"f" * (40 << 20)), RepositoryUnavailable, "larger than", id="huge-sidecar"),
        pytest.param("sha512", Status(503), RepositoryUnavailable, "HTTP 503", id="no-downgrade-on-503"),
        pytest.param("", Status(404), IntegrityError, "no checksum file", id="all-sidecars-missing"),
    ],
)
def test_wrong_or_missing_checksums_are_refused(
    served: FaultyServer, cache: Path, sidecar: str, fault: Body | Status, error: type[RegistryError], match: str
) -> None:
    if sidecar:
        served.always("GET", f"{JAR}.{sidecar}", fault)
    else:
        for algorithm in ("md5", "sha1", "sha256", "sha512"):
            served.always("GET", f"{JAR}.{algorithm}", fault)
    _fails(served, cache, error, match, within=8, retries=1)


def test_a_redirect_loop_is_one_clear_error(served: FaultyServer, cache: Path) -> None:
    served.always("GET", METADATA, Status(302, headers=(("Location", f"/repo/{METADATA}"),)))
    _fails(served, cache, RepositoryUnavailable, "redirect", within=5)


# -- hostile maven-metadata.xml --------------------------------------------------------------------------

_HEAD = b'<?xml version="1.0"?>'
_BILLION_LAUGHS = _HEAD + (
    b'<!DOCTYPE metadata [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(b'<!ENTITY %c "%s">' % (98 + i, b"&%c;" % (97 + i) * 10) for i in range(9))
    + b"]><metadata><groupId>&j;</groupId></metadata>"
)
_EXTERNAL = _HEAD + (
    b'<!DOCTYPE metadata [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<metadata><groupId>com.acme</groupId><artifactId>churn</artifactId><versioning><versions>"
    b"<version>&x;</version></versions></versioning></metadata>"
)
_PARAMETER = _HEAD + b'<!DOCTYPE m [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><metadata/>'


def _metadata(*versions: str, group: str = "com.acme") -> bytes:
    listed = "".join(f"<version>{v}</version>" for v in versions)
    return (
        f"<metadata><groupId>{group}</groupId><artifactId>churn</artifactId>"
        f"<versioning><versions>{listed}</versions></versioning></metadata>"
    ).encode()


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        pytest.param(_BILLION_LAUGHS, IntegrityError, "not a readable maven-metadata.xml", id="billion-laughs"),
        pytest.param(_EXTERNAL, IntegrityError, "not a readable maven-metadata.xml", id="external-entity"),
        pytest.param(_PARAMETER, IntegrityError, "not a readable maven-metadata.xml", id="parameter-entity"),
        pytest.param(b"<metadata>" * 200_000, IntegrityError, "not a readable", id="deeply-nested-unclosed"),
        pytest.param(_metadata("1.0.0") + b" " * (17 << 20), IntegrityError, "refusing to parse", id="17-MB"),
        pytest.param(b"<a>" + b"x" * (40 << 20), RepositoryUnavailable, "larger than", id="40-MB"),
        pytest.param(b"\xff\xfe\x00<\x00m", IntegrityError, "not a readable", id="binary"),
        pytest.param(b"<project/>", IntegrityError, "root element is <project>", id="not-metadata"),
        pytest.param(
            _metadata("1.0.0", group="com.acme\nregistry: error: all good\u202e"),
            IntegrityError,
            "describes",
            id="other-group-with-control-characters",
        ),
    ],
)
def test_hostile_metadata_is_refused(
    served: FaultyServer,
    cache: Path,
    make_model: Callable[..., Path],
    body: bytes,
    error: type[RegistryError],
    match: str,
) -> None:
    served.always("GET", METADATA, Body(body))
    caught = _fails(served, cache, error, match, within=10)
    assert "\x1b" not in str(caught) and "root:" not in str(caught)
    with pytest.raises(error):  # and a deploy does not start over at build 0 on top of it
        deploy(make_model(), "com.acme:churn:1.0", repository=open_faulty(served))
    # Nothing written but the server probe's throw-away file (the probe runs while the metadata is read).
    assert [p for m, p, _ in served.log if m == "PUT" and not p.startswith(".registry/")] == []


def test_a_compressed_metadata_bomb_is_cut_off_without_filling_memory(served: FaultyServer, cache: Path) -> None:
    from faultserver import gzip_bomb

    served.always("GET", METADATA, Body(gzip_bomb(1 << 30), headers=(("Content-Encoding", "gzip"),)))
    tracemalloc.start()
    try:
        _fails(served, cache, RepositoryUnavailable, "compressed .Content-Encoding 'gzip'.", within=10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 << 20, f"peak {peak >> 20} MiB for a 1 GiB bomb"


def test_odd_versions_in_metadata_are_ignored_and_never_become_paths(served: FaultyServer, cache: Path) -> None:
    odd = [
        "../../../../etc/passwd",
        "1.0.1/../../../x",
        "\u0661.\u0660.\u0669",  # Arabic-Indic digits
        "\uff11.\uff10.\uff19",  # full-width digits
        "1.0.99999999999",
        "1.0.9;rm -rf ~",
        "1.0.9%2F..",
        "1.0.09",
        "1.0.9-SNAPSHOT",
        "&lt;script&gt;",
    ]
    served.always("GET", METADATA, Body(_metadata("1.0.0", *odd, "1.0.1")))
    _survives(served, cache, within=5)
    paths = [path for _, path, _ in served.log]
    assert all(".." not in path.split("/") and "1.0.9" not in path for path in paths), paths


# -- faults while deploying ------------------------------------------------------------------------------


def test_a_failed_jar_upload_leaves_nothing_listed(
    served: FaultyServer, make_model: Callable[..., Path], cache: Path
) -> None:
    served.always("PUT", "churn-1.0.2.jar", Status(503, b"Service Unavailable"))
    with pytest.raises(RepositoryUnavailable, match=r"HTTP 503 to writing com/acme/churn/1\.0\.2/churn-1\.0\.2\.jar"):
        deploy(make_model("two"), "com.acme:churn:1.0", repository=open_faulty(served))
    assert served.requests("PUT", "churn-1.0.2.jar") == 1  # a PUT is never blindly retried
    served.clear()
    repository = open_faulty(served)
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.0", "1.0.1")
    _survives(served, cache, within=5)
    report = check(repository, min_age=0)
    assert [(f.version, f.kind) for f in report.findings] == [("1.0.2", Kind.INCOMPLETE)]
    FIGURES["server faults ending in one clear error"] += 1


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        pytest.param(Status(503, b"Service Unavailable"), "HTTP 503", id="503"),
        pytest.param(Reset(), "connection reset|Cannot reach|failed", id="reset"),
        pytest.param(Silence(), "did not answer", id="no-answer"),
    ],
)
def test_a_failed_upload_among_the_concurrent_ones_leaves_no_jar(
    served: FaultyServer, make_model: Callable[..., Path], cache: Path, fault: Status | Reset | Silence, match: str
) -> None:
    """The card's checksum fails while the jar is streaming beside it: one clear error within the timeout, and the
    jar, held back until every other file is in place, is never created: nothing of 1.0.2 resolves."""
    served.always("PUT", "churn-1.0.2-model.json.sha256", fault)
    big = make_model("two" * 3000)  # ~900 KB: the jar is still streaming when the checksum fails
    started = time.monotonic()
    with pytest.raises(RepositoryUnavailable, match=match) as caught:
        deploy(big, "com.acme:churn:1.0", repository=open_faulty(served, timeout=1.0))
    assert time.monotonic() - started < 10 and "\n" not in str(caught.value)
    # a dropped PUT is sent again a bounded number of times (it is create-only, so never applied twice)
    assert served.requests("PUT", "churn-1.0.2-model.json.sha256") <= 1 + session.REPLAYS
    assert served.requests("PUT", "churn-1.0.2.jar") <= 1
    assert not (served.root / "com/acme/churn/1.0.2/churn-1.0.2.jar").exists()
    served.clear()
    repository = open_faulty(served)
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.0", "1.0.1")
    with pytest.raises(ArtifactNotFound, match=r"1\.0\.2"):
        resolve("com.acme:churn:1.0.2", repository=repository, cache_dir=cache)
    _survives(served, cache, within=5)
    report = check(repository, min_age=0)
    assert [(f.version, f.kind) for f in report.findings] == [("1.0.2", Kind.INCOMPLETE)]
    FIGURES["server faults ending in one clear error"] += 1


def test_an_upload_whose_end_is_held_back_too_long_is_sent_again_whole(
    faulty: FaultyServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A jar's last byte waits for the other files; a server drops a body that stalls (Apache's mod_reqtimeout),
    so past GATE_PATIENCE the upload is broken off (the server keeps nothing) and sent again once they are in."""
    monkeypatch.setattr(session, "GATE_PATIENCE", 0.2)
    data = os.urandom(300_000)
    source = tmp_path / "held.jar"
    source.write_bytes(data)
    open_faulty(faulty, timeout=2.0).create_after("com/acme/held.jar", source, lambda: time.sleep(1.0))
    assert (faulty.root / "com/acme/held.jar").read_bytes() == data
    assert faulty.requests("PUT", "com/acme/held.jar") == 2  # broken off once, then whole


def test_an_upload_stored_but_never_acknowledged_is_recognised_when_sent_again(
    served: FaultyServer, make_model: Callable[..., Path], cache: Path
) -> None:
    """The server stores the jar and resets the connection before answering: the PUT is sent again, refused as
    taken, and the server's copy is found to be ours, byte for byte, so the deploy goes on."""
    served.script("PUT", "churn-1.0.2.jar", Reset(after=0))  # stored, then the connection is reset
    deployed = deploy(make_model("two"), "com.acme:churn:1.0", repository=open_faulty(served))
    assert str(deployed) == "com.acme:churn:1.0.2"
    assert served.requests("PUT", "churn-1.0.2.jar") == 2
    folder = served.root / "com/acme/churn/1.0.2"
    jar = (folder / "churn-1.0.2.jar").read_bytes()
    assert (folder / "churn-1.0.2.jar.sha512").read_bytes() == digest_bytes(jar).sha512.encode()
    resolved = resolve("com.acme:churn:latest.release", repository=open_faulty(served), cache_dir=cache)
    assert str(resolved.coordinate) == "com.acme:churn:1.0.2" and (resolved.path / DATA).read_text().startswith("two")
    FIGURES["server faults survived by retrying"] += 1


def test_writes_on_connections_dropped_without_an_answer_are_sent_again(
    served: FaultyServer, make_model: Callable[..., Path], cache: Path
) -> None:
    """A busy server closes kept-alive connections as requests go out on them (Apache's event MPM does): the
    claim, a streamed jar and the metadata update each lose their first attempt, and the deploy still lands."""
    for path in ("churn-1.0.2.pom", "churn-1.0.2.jar", "churn/maven-metadata.xml"):
        served.script("PUT", path, Reset())  # the body is read, then the connection is reset: nothing is stored
    deployed = deploy(make_model("two"), "com.acme:churn:1.0", repository=open_faulty(served))
    assert str(deployed) == "com.acme:churn:1.0.2"
    assert served.requests("PUT", "churn-1.0.2.jar") == 2
    resolved = resolve("com.acme:churn:latest.release", repository=open_faulty(served), cache_dir=cache)
    assert str(resolved.coordinate) == "com.acme:churn:1.0.2" and (resolved.path / DATA).read_text().startswith("two")
    FIGURES["server faults survived by retrying"] += 1


def test_a_write_sent_again_does_not_take_a_path_someone_else_holds(served: FaultyServer, tmp_path: Path) -> None:
    """The first attempt is lost; by the time it is sent again the path holds other bytes: still refused."""
    served.write("com/acme/other/1.0.0/other-1.0.0.jar", b"theirs")
    served.script("PUT", "other-1.0.0.jar", Reset())
    with pytest.raises(PathExists):
        open_faulty(served).create("com/acme/other/1.0.0/other-1.0.0.jar", b"ours")
    assert (served.root / "com/acme/other/1.0.0/other-1.0.0.jar").read_bytes() == b"theirs"


def test_a_connection_dropped_every_time_ends_in_one_clear_error(served: FaultyServer) -> None:
    served.always("PUT", "other-1.0.0.pom", Reset())
    started = time.monotonic()
    with pytest.raises(RepositoryUnavailable, match="connection reset by the server") as caught:
        open_faulty(served).create("com/acme/other/1.0.0/other-1.0.0.pom", b"<project/>")
    assert time.monotonic() - started < 5 and "\n" not in str(caught.value)
    assert served.requests("PUT", "other-1.0.0.pom") == 1 + session.REPLAYS
    FIGURES["server faults ending in one clear error"] += 1
