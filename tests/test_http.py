"""The HTTP repository against Nexus's own behaviour, and under faults a real server will not produce on demand.

Nexus 3 cannot run on this machine, so :class:`FakeNexus` is a real HTTP server on 127.0.0.1 that behaves as a
hosted release repository does where it matters (ALLOW_ONCE "Disable redeploy", strict maven2 layout, ETags):
the happy paths go through the repository's real transport, small-file reader included. The faults a real
server cannot produce on demand (a connect timeout raised by ``requests``, a lying ``Content-Length``) are
faked at the transport with ``responses``; such a repository sends every request through the ``requests``
session (``session_only``). More happy paths on real servers are in tests/integration/test_http_repositories.py.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from registry.deploy import deploy
from registry.exceptions import (
    ArtifactNotFound,
    AuthenticationFailed,
    IntegrityError,
    RepositoryNotFound,
    RepositoryUnavailable,
    VersionExists,
)
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http import HttpRepository
from registry.resolve import resolve

BASE = "https://nexus.example/repository/models/"  # faked by responses: no such server is ever reached
PASSWORD = "pa55-w0rd-secret"


class FakeNexus:
    """A Nexus 3 hosted maven2 release repository with "Disable redeploy" and a strict layout policy, served on
    127.0.0.1 (HTTP/1.1, kept-alive connections). ``faults[path]``: statuses answered to the next GETs of it."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []  # of each request, in order
        self.faults: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        nexus = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.removeprefix("/repository/models/")
                with nexus.lock:
                    status, headers, content = nexus.handle(self.command, path, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_HEAD = do_PUT = do_DELETE = do_MKCOL = do_LOCK = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/repository/models/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        self.requests.append((method, path))
        self.headers.append(headers)
        if headers.get("Authorization") is None:
            return 401, {"WWW-Authenticate": 'BASIC realm="Sonatype Nexus Repository Manager"'}, b""
        if method in ("MKCOL", "LOCK"):
            return 405, {}, b""  # Nexus is no WebDAV server
        if method in ("GET", "HEAD"):
            if self.faults.get(path):
                return self.faults[path].pop(0), {}, b""
            if path == "":  # the repository's root: Nexus's page saying it is not browseable there
                return 200, {"Content-Type": "text/html"}, _NEXUS_ROOT["existing"]["body"].encode()
            if path not in self.files:
                return 404, {}, b""
            content = self.files[path]
            etag = '"' + hashlib.sha1(content).hexdigest() + '"'
            return 200, {"ETag": etag, "Content-Length": str(len(content))}, content if method == "GET" else b""
        if method == "PUT":
            if path.startswith(".registry/"):
                return 400, {}, b"Invalid path for a Maven 2 repository"
            if path in self.files and "maven-metadata.xml" not in path:
                return 400, {}, b"Repository does not allow updating assets: models"
            self.files[path] = body
            return 201, {}, b""
        self.files.pop(path, None)
        return 204, {}, b""

    def puts(self) -> list[str]:
        return [path for method, path in self.requests if method == "PUT"]

    def quick_gets(self) -> int:
        """GETs sent by the small-file reader (it leaves out the ``Connection`` header ``requests`` sends)."""
        return sum(
            1
            for (method, _), h in zip(self.requests, self.headers, strict=True)
            if method == "GET" and "Connection" not in h
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def make_repo(url: str = BASE, **config: Any) -> HttpRepository:
    """The repository at ``url`` (``BASE``: faked by ``responses``, so every request goes through its session)."""
    settings = {"timeout": 2.0, **config}
    return HttpRepository(
        RepositoryConfig("nexus", url, **settings),
        Credentials("a test", "deployer", PASSWORD),
        "credentials came from a test.",
        session_only=url == BASE,
    )


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as m:
        yield m


@pytest.fixture
def nexus() -> Iterator[FakeNexus]:
    server = FakeNexus()
    yield server
    server.close()


def test_deploy_and_resolve_round_trip_on_nexus(nexus: FakeNexus, make_model: Callable[..., Path]) -> None:
    repo = make_repo(nexus.url)
    assert str(deploy(make_model("a"), "com.acme:churn:1.0", repository=repo)) == "com.acme:churn:1.0.0"
    assert str(deploy(make_model("b"), "com.acme:churn:1.0", repository=repo)) == "com.acme:churn:1.0.1"
    resolved = resolve("com.acme:churn:latest.release", repository=repo)
    assert str(resolved.coordinate) == "com.acme:churn:1.0.1"
    assert (resolved.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text() == "b" * 100
    # The jar goes last, after its checksums; the metadata after all files of the version.
    puts = [p for p in nexus.puts() if "1.0.1" in p or p.startswith("com/acme/churn/maven-metadata.xml")]
    assert puts.index("com/acme/churn/1.0.1/churn-1.0.1.jar") > puts.index(
        "com/acme/churn/1.0.1/churn-1.0.1.jar.sha512"
    )
    assert puts.index("com/acme/churn/maven-metadata.xml", len(puts) - 6) > puts.index(
        "com/acme/churn/1.0.1/churn-1.0.1.jar"
    )
    assert nexus.quick_gets() > 0  # small files were read on the small-file reader


def test_nexus_400_on_redeploy_means_version_taken(nexus: FakeNexus, make_model: Callable[..., Path]) -> None:
    repo = make_repo(nexus.url)
    deploy(make_model(), "com.acme:churn:1.0.3", repository=repo)
    jar_before = nexus.files["com/acme/churn/1.0.3/churn-1.0.3.jar"]
    # Metadata that lags behind (as after a crashed deploy), so only the server can say the version exists.
    nexus.files["com/acme/churn/maven-metadata.xml"] = (
        b"<metadata><groupId>com.acme</groupId><artifactId>churn</artifactId></metadata>"
    )
    with pytest.raises(VersionExists, match=r"com\.acme:churn:1\.0\.3 already exists"):
        deploy(make_model("other"), "com.acme:churn:1.0.3", repository=repo)
    assert nexus.files["com/acme/churn/1.0.3/churn-1.0.3.jar"] == jar_before


def test_a_build_claimed_by_a_concurrent_deploy_is_stepped_over(
    nexus: FakeNexus, make_model: Callable[..., Path]
) -> None:
    repo = make_repo(nexus.url)
    deploy(make_model(), "com.acme:churn:1.0", repository=repo)
    nexus.files["com/acme/churn/1.0.1/churn-1.0.1.pom"] = b"<project/>"  # claimed, not yet listed
    assert str(deploy(make_model(), "com.acme:churn:1.0", repository=repo)) == "com.acme:churn:1.0.2"


def test_missing_trailing_slash_is_added() -> None:
    repo = HttpRepository(RepositoryConfig("n", BASE.rstrip("/")))
    assert repo.base == BASE


def test_user_info_goes_to_headers_and_never_into_messages(nexus: FakeNexus) -> None:
    url = nexus.url.replace("http://", f"http://deployer:{PASSWORD}@")
    nexus.faults["com/acme/churn/maven-metadata.xml"] = [500] * 10
    from registry.settings import Settings

    settings = Settings.load()
    config = settings.repository(url)
    repo = HttpRepository(config, settings.credentials(config), settings.explain_credentials(config))
    with pytest.raises(RepositoryUnavailable) as err:
        resolve("com.acme:churn:latest.release", repository=repo)
    assert PASSWORD not in str(err.value) and "deployer" not in str(err.value)
    assert nexus.url.replace("http://", "http://***@") in str(err.value)
    assert nexus.headers[0]["Authorization"].startswith("Basic ")
    assert all(PASSWORD not in path for _, path in nexus.requests)


def test_bearer_token(nexus: FakeNexus) -> None:
    repo = HttpRepository(RepositoryConfig("n", nexus.url), Credentials("t", token="tok-123"))
    with pytest.raises(ArtifactNotFound, match="has no released versions"):
        resolve("com.acme:churn:latest.release", repository=repo)
    assert nexus.headers[0]["Authorization"] == "Bearer tok-123"
    assert nexus.quick_gets() == 1  # the 404 was taken on the small-file reader


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ({"status": 401}, AuthenticationFailed, "rejected the credentials"),
        ({"status": 403}, AuthenticationFailed, "does not allow"),
        ({"status": 503}, RepositoryUnavailable, "HTTP 503"),
        ({"body": requests.exceptions.ConnectTimeout()}, RepositoryUnavailable, "did not answer"),
        ({"body": requests.exceptions.ReadTimeout()}, RepositoryUnavailable, "did not answer"),
        ({"body": requests.exceptions.ConnectionError("reset")}, RepositoryUnavailable, "Cannot reach"),
        ({"body": b"<metadata><oops"}, IntegrityError, "not a readable maven-metadata.xml"),
    ],
)
def test_any_failure_reading_metadata_aborts_the_deploy(
    mock: responses.RequestsMock,
    make_model: Callable[..., Path],
    fault: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    """Only a 404 means "no versions yet"; the Scala tool fell back to build 0 on any failure here."""
    mock.add(responses.GET, BASE + "com/acme/churn/maven-metadata.xml", **fault)
    with pytest.raises(error, match=message) as err:
        deploy(make_model(), "com.acme:churn:1.0", repository=make_repo())
    # Nothing was written (the server probe, which runs meanwhile, only ever writes a throw-away .registry/ folder).
    calls = [c.request for c in mock.calls if ".registry/" not in str(c.request.url)]
    assert {c.method for c in calls} <= {"GET", "HEAD"}  # reads only (a HEAD asks whether the JVM runtime is there)
    assert PASSWORD not in str(err.value)


def test_authentication_error_says_how_credentials_are_looked_up(nexus: FakeNexus) -> None:
    from registry.settings import Settings

    settings = Settings.load()
    config = RepositoryConfig("staging", nexus.url)
    repo = HttpRepository(config, None, settings.explain_credentials(config))  # Nexus answers 401 without any
    with pytest.raises(AuthenticationFailed) as err:
        resolve("com.acme:churn:latest.release", repository=repo)
    text = str(err.value)
    assert "staging" in text and "no credentials were found" in text and "REGISTRY_USERNAME" in text


def _serve_version(nexus: FakeNexus, jar: bytes, sidecars: dict[str, bytes]) -> None:
    nexus.files["com/acme/churn/maven-metadata.xml"] = (
        b"<metadata><groupId>com.acme</groupId><artifactId>churn</artifactId><versioning><versions>"
        b"<version>1.0.0</version></versions></versioning></metadata>"
    )
    path = "com/acme/churn/1.0.0/churn-1.0.0.jar"
    for algorithm, sidecar in sidecars.items():
        nexus.files[f"{path}.{algorithm}"] = sidecar
    nexus.files[path] = jar


def _jar(make_model: Callable[..., Path], tmp_path: Path) -> bytes:
    from registry.archive import pack
    from registry.coordinates import Coordinate

    pack(make_model(), tmp_path / "j.jar", Coordinate.parse("com.acme:churn:1.0.0"), b"<project/>", b"{}")
    return (tmp_path / "j.jar").read_bytes()


def test_the_strongest_checksum_offered_is_verified(
    nexus: FakeNexus, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    jar = _jar(make_model, tmp_path)
    _serve_version(nexus, jar, {"sha1": hashlib.sha1(jar).hexdigest().encode(), "md5": b"0" * 32})
    # md5 is wrong, but sha1 is stronger and right: sha1 is what counts.
    assert str(resolve("com.acme:churn:1.0", repository=make_repo(nexus.url)).coordinate) == "com.acme:churn:1.0.0"


def test_get_is_retried_on_5xx_then_succeeds(nexus: FakeNexus, make_model: Callable[..., Path], tmp_path: Path) -> None:
    metadata = "com/acme/churn/maven-metadata.xml"
    nexus.faults[metadata] = [503, 502]
    jar = _jar(make_model, tmp_path)
    _serve_version(nexus, jar, {"sha512": hashlib.sha512(jar).hexdigest().encode()})
    repo = make_repo(nexus.url)
    assert str(resolve("com.acme:churn:latest.release", repository=repo).coordinate) == "com.acme:churn:1.0.0"
    assert [path for method, path in nexus.requests if method == "GET"].count(metadata) == 3


def test_wrong_checksum_is_refused_and_nothing_cached(
    nexus: FakeNexus, make_model: Callable[..., Path], tmp_path: Path, settings: Any
) -> None:
    jar = _jar(make_model, tmp_path)
    _serve_version(nexus, jar, {"sha512": hashlib.sha512(b"something else").hexdigest().encode()})
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        resolve("com.acme:churn:1.0", repository=make_repo(nexus.url), settings=settings)
    leftovers = [p for p in settings.cache_dir.rglob("*") if p.is_file()] if settings.cache_dir.exists() else []
    assert leftovers == []


def test_truncated_download_is_refused(
    mock: responses.RequestsMock, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    jar = _jar(make_model, tmp_path)
    mock.add(responses.GET, BASE + "com/acme/churn/1.0.0/churn-1.0.0.jar.sha512", body=hashlib.sha512(jar).hexdigest())
    mock.add(
        responses.GET,
        BASE + "com/acme/churn/1.0.0/churn-1.0.0.jar",
        body=jar[: len(jar) // 2],
        headers={"Content-Length": str(len(jar))},
        auto_calculate_content_length=False,
    )
    with pytest.raises((RepositoryUnavailable, IntegrityError)):
        resolve("com.acme:churn:1.0.0", repository=make_repo())


def test_unsafe_server_is_refused_by_default(mock: responses.RequestsMock, make_model: Callable[..., Path]) -> None:
    mock.add(responses.GET, BASE + "com/acme/churn/maven-metadata.xml", status=404)
    mock.add(responses.PUT, re.compile(re.escape(BASE) + r"\.registry/.*"), status=201)  # overwrites silently
    mock.add(responses.DELETE, re.compile(re.escape(BASE) + r"\.registry/.*"), status=204)
    mock.add("MKCOL", re.compile(re.escape(BASE) + r".*"), status=201)
    mock.add(responses.HEAD, re.compile(re.escape(BASE) + r"io/github/.*"), status=404)  # no JVM runtime there
    with pytest.raises(RepositoryUnavailable, match='unsafe_overwrite = "warn"'):
        deploy(make_model(), "com.acme:churn:1.0", repository=make_repo())
    writes = [c.request.url or "" for c in mock.calls if c.request.method in ("PUT", "MKCOL")]
    assert writes and all("/.registry/" in url for url in writes)  # nothing but the probe was written


#: What Nexus 3 answers to a GET of a repository's root: 404 "Repository not found" for a name it has no repository
#: of (before any authentication), and for an existing maven2 repository its page saying it is not browseable there.
_NEXUS_ROOT = {
    "missing": {"status": 404, "body": "Repository not found"},
    "existing": {
        "status": 200,
        "body": "<html><body>This maven2 hosted repository is not directly browseable at this URL.</body></html>",
        "content_type": "text/html",
    },
    "anonymous": {"status": 401, "body": ""},  # an existing repository that needs credentials: cannot tell
}


@pytest.mark.parametrize("root", sorted(_NEXUS_ROOT))
def test_a_nexus_repository_that_does_not_exist_is_told_from_an_empty_one(
    mock: responses.RequestsMock, root: str
) -> None:
    mock.add(responses.GET, BASE, **_NEXUS_ROOT[root])
    mock.add(responses.GET, re.compile(re.escape(BASE) + r".+"), status=404)  # nothing in it
    with pytest.raises(ArtifactNotFound) as raised:
        resolve("com.acme:churn:latest.release", repository=make_repo())
    assert isinstance(raised.value, RepositoryNotFound) is (root == "missing")
    if root == "missing":
        assert str(raised.value).startswith(f"The repository nexus ({BASE}) does not exist.")
    else:
        assert "it was never released there" in str(raised.value)
