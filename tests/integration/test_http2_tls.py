"""HTTP/2 over TLS against a real server: nginx serving the repository on ``listen ... ssl http2`` (nginx 1.22's
spelling) with a certificate made by a CA created for the test (openssl), trusted through the repository's
``ca_bundle``. The small reads go over HTTP/2 (ALPN), as with Nexus or Artifactory behind TLS, on both routes'
trust; a certificate nothing trusts is one error line naming the URL, exit 2."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import certifi
import pytest
from realtools import missing, require_tool
from servers import Credentials, DavRepo, DavServer, ServerNotInstalled, find_nginx, nginx


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, and a certificate for 127.0.0.1 signed by it: {"ca", "chain", "key"}."""
    require_tool(shutil.which("openssl") is not None, "openssl")
    where = tmp_path_factory.mktemp("tls")
    where.chmod(0o755)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", str(where / "ca.key"), "-out", str(where / "ca.pem"), "-days", "2",
             "-subj", "/CN=registry test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _openssl("req", *ec, "-keyout", str(where / "server.key"), "-out", str(where / "server.csr"),
             "-subj", "/CN=127.0.0.1")  # fmt: skip
    (where / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    _openssl("x509", "-req", "-in", str(where / "server.csr"), "-CA", str(where / "ca.pem"),
             "-CAkey", str(where / "ca.key"), "-CAcreateserial", "-days", "2", "-out", str(where / "server.pem"),
             "-extfile", str(where / "server.ext"))  # fmt: skip
    return {"ca": where / "ca.pem", "chain": where / "server.pem", "key": where / "server.key"}


@pytest.fixture(scope="module")
def tls_server(repo_credentials: Credentials, certificates: dict[str, Path]) -> Iterator[DavServer]:
    try:
        binary = find_nginx()
    except ServerNotInstalled as error:
        missing(str(error))
    with nginx(binary, repo_credentials, tls=(certificates["chain"], certificates["key"])) as server:
        yield server


class _AccessLog:
    """nginx's lines for one repository (the request line carries the protocol: ``"GET /x HTTP/2.0"``), once every
    request answered so far is logged: a marker request sent now is logged after them."""

    def __init__(self, server: DavServer, repo_url: str, ca: Path) -> None:
        self._file = server.workdir / "access.log"
        self._url = repo_url
        self._path = " /" + repo_url.split("/", 3)[3]
        self._tls = ssl.create_default_context(cafile=str(ca))
        self._start = 0
        self._marks = 0

    def mark(self) -> None:
        self._start = len(self._lines())

    def since(self) -> list[str]:
        return self._lines()[self._start :]

    def _lines(self) -> list[str]:
        self._marks += 1
        marker = f"__logged_{os.getpid()}_{self._marks}__"
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(self._url + marker, timeout=10, context=self._tls)  # a 401, logged like any
        deadline = time.monotonic() + 10
        while True:
            lines = [line for line in self._file.read_text().splitlines() if self._path in line]
            if any(marker in line for line in lines) or time.monotonic() > deadline:
                return [line for line in lines if "__logged_" not in line]
            time.sleep(0.01)


def _https(repo: DavRepo, server: DavServer) -> str:
    return repo.url.replace(f"http://127.0.0.1:{server.port}/", f"https://127.0.0.1:{server.tls_port}/")


def _cli(*args: str) -> tuple[int, str, str]:
    """``registry ARGS`` through its entry point, in a process of its own (its exit code and one-line errors)."""
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys; from registry.cli import main; main(sys.argv[1:])", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def tls_repo(tls_server: DavServer, request: pytest.FixtureRequest) -> DavRepo:
    return tls_server.new_repo("nginx-immutable", request.node.name)


def test_deploy_search_and_resolve_over_http2_with_a_private_ca(
    tls_server: DavServer,
    tls_repo: DavRepo,
    certificates: dict[str, Path],
    make_model: Callable[..., Path],
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = _https(tls_repo, tls_server)
    (isolated_env / "config.toml").write_text(
        f'[repositories.private]\nurl = "{url}"\nca_bundle = "{certificates["ca"]}"\n'
    )
    monkeypatch.setenv("REGISTRY_USERNAME", tls_repo.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", tls_repo.password)
    # The system's bundle named for requests, as on many machines: the repository's ca_bundle must still win.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    for _ in range(3):
        code, out, err = _cli("deploy", str(make_model()), "com.acme:churn:1.0", "-r", "private")
        assert code == 0, err
    assert out.splitlines()[-1] == "com.acme:churn:1.0.2"
    log = _AccessLog(tls_server, url, certificates["ca"])

    monkeypatch.setenv("REGISTRY_CACHE", str(tmp_path / "cold"))  # the cards are read, not found in the cache
    log.mark()
    code, out, err = _cli("search", "com.acme:churn", "-r", "private", "--json")
    assert code == 0, err
    assert [record["coordinate"] for record in json.loads(out)] == [f"com.acme:churn:1.0.{n}" for n in (2, 1, 0)]
    reads = [line for line in log.since() if '"GET ' in line]
    assert len(reads) == 1 + 3 * 2  # the metadata, each card and its checksum: all small reads...
    assert all(" HTTP/2.0" in line for line in reads), reads  # ...over HTTP/2, agreed by ALPN

    code, out, err = _cli("resolve", "com.acme:churn:latest.release", "-r", "private")
    assert code == 0, err
    assert (Path(out.splitlines()[-1]) / "metadata" / "part-00000").is_file()


def test_a_certificate_nothing_trusts_is_one_error_naming_the_url(
    tls_server: DavServer, tls_repo: DavRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _https(tls_repo, tls_server)
    monkeypatch.setenv("REGISTRY_USERNAME", tls_repo.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", tls_repo.password)
    for command in (("search", "com.acme:churn"), ("resolve", "com.acme:churn:latest.release")):
        code, _, err = _cli(*command, "-r", url)
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert url in err and "ca_bundle" in err, err
