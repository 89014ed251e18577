"""The test servers behave as SERVERS.md says real nginx and Apache maven2 repositories do."""

from __future__ import annotations

import os
import re
import time

import pytest
import requests
from servers import Credentials, DavRepo, RepoFactory, ServerStartError, find_nginx, nginx

TIMEOUT = 5


def _put(url: str, repo: DavRepo, data: bytes = b"payload", **headers: str) -> requests.Response:
    return requests.put(url, data=data, auth=repo.auth, headers=headers, timeout=TIMEOUT)


def test_put_then_get_round_trip(http_repo: DavRepo) -> None:
    url = http_repo.url + "model-1.0.jar"

    assert _put(url, http_repo, b"jar bytes").status_code == 201

    response = requests.get(url, auth=http_repo.auth, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.content == b"jar bytes"
    assert (http_repo.root / "model-1.0.jar").read_bytes() == b"jar bytes"


def test_anonymous_request_is_challenged_with_the_realm(http_repo: DavRepo) -> None:
    http_repo.write("model-1.0.pom", b"<project/>")

    response = requests.get(http_repo.url + "model-1.0.pom", timeout=TIMEOUT)

    assert response.status_code == 401
    challenge = re.fullmatch(r'Basic realm="(.*)"', response.headers["WWW-Authenticate"])
    assert challenge
    assert challenge[1] == http_repo.realm


def test_wrong_password_is_refused(http_repo: DavRepo) -> None:
    response = requests.put(http_repo.url + "x.jar", data=b"x", auth=(http_repo.username, "wrong"), timeout=TIMEOUT)

    assert response.status_code == 401
    assert not (http_repo.root / "x.jar").exists()


def test_overwrite_answer_matches_the_declared_behaviour(http_repo: DavRepo) -> None:
    url = http_repo.url + "model-1.0.jar"
    assert _put(url, http_repo, b"first").status_code == 201

    second = _put(url, http_repo, b"second", **{"If-None-Match": "*"})

    expected = 412 if http_repo.honours_if_none_match else 409 if http_repo.refuses_overwrite else 204
    assert second.status_code == expected
    kept = b"first" if expected in (409, 412) else b"second"
    assert (http_repo.root / "model-1.0.jar").read_bytes() == kept


def test_each_call_gives_a_fresh_empty_repository(dav_repo_factory: RepoFactory) -> None:
    first, second = dav_repo_factory("nginx"), dav_repo_factory("nginx")

    assert first.url != second.url
    assert first.url.endswith("/")
    assert first.root.is_dir()
    assert list(first.root.iterdir()) == []


def test_nginx_overwrites_and_creates_parents(nginx_repo: DavRepo) -> None:
    url = nginx_repo.url + "com/acme/churn/1.0/churn-1.0.jar"

    assert _put(url, nginx_repo, b"one").status_code == 201
    assert _put(url, nginx_repo, b"two").status_code == 204
    assert requests.get(url, auth=nginx_repo.auth, timeout=TIMEOUT).content == b"two"


def test_immutable_refuses_overwrite_but_not_metadata(immutable_repo: DavRepo) -> None:
    jar = immutable_repo.url + "com/acme/churn/1.0/churn-1.0.jar"
    metadata = immutable_repo.url + "com/acme/churn/maven-metadata.xml"
    assert _put(jar, immutable_repo, b"one").status_code == 201

    refused = _put(jar, immutable_repo, b"two")

    assert refused.status_code == 409
    assert requests.get(jar, auth=immutable_repo.auth, timeout=TIMEOUT).content == b"one"
    for url in (metadata, metadata + ".sha1"):
        assert _put(url, immutable_repo, b"v1").status_code == 201
        assert _put(url, immutable_repo, b"v2").status_code == 204
    assert requests.delete(jar, auth=immutable_repo.auth, timeout=TIMEOUT).status_code == 204


def test_immutable_authenticates_before_refusing(immutable_repo: DavRepo) -> None:
    jar = immutable_repo.url + "churn-1.0.jar"
    assert _put(jar, immutable_repo).status_code == 201

    response = requests.put(jar, data=b"other", timeout=TIMEOUT)

    assert response.status_code == 401


def test_apache_if_none_match_star_is_an_atomic_create(apache_repo: DavRepo) -> None:
    url = apache_repo.url + "churn-1.0.jar"

    assert _put(url, apache_repo, b"one", **{"If-None-Match": "*"}).status_code == 201
    assert _put(url, apache_repo, b"two", **{"If-None-Match": "*"}).status_code == 412
    assert (apache_repo.root / "churn-1.0.jar").read_bytes() == b"one"


def test_apache_if_match_compares_etags(apache_repo: DavRepo) -> None:
    url = apache_repo.url + "maven-metadata.xml"
    path = apache_repo.write("maven-metadata.xml", b"<metadata/>")
    # Apache serves a weak ETag for a file written in the last second; an older file gets a strong one.
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    etag = requests.head(url, auth=apache_repo.auth, timeout=TIMEOUT).headers["ETag"]
    assert not etag.startswith("W/")

    assert _put(url, apache_repo, b"<metadata>1</metadata>", **{"If-Match": etag}).status_code == 204
    stale = _put(url, apache_repo, b"<metadata>2</metadata>", **{"If-Match": etag})

    assert stale.status_code == 412
    assert path.read_bytes() == b"<metadata>1</metadata>"


def test_apache_needs_mkcol_for_each_missing_parent(apache_repo: DavRepo) -> None:
    url = apache_repo.url + "com/acme/churn-1.0.jar"

    assert _put(url, apache_repo).status_code == 409
    for directory in ("com/", "com/acme/"):
        response = requests.request("MKCOL", apache_repo.url + directory, auth=apache_repo.auth, timeout=TIMEOUT)
        assert response.status_code == 201
    assert _put(url, apache_repo).status_code == 201


def test_blackhole_times_out_instead_of_hanging(blackhole: str) -> None:
    started = time.monotonic()

    with pytest.raises(requests.Timeout):
        requests.get(blackhole + "x.pom", timeout=1)

    assert time.monotonic() - started < 2


def test_closed_port_refuses_connections(closed_port: str) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(closed_port + "x.pom", timeout=1)


def test_a_server_that_fails_to_start_reports_its_error_log(nginx_server: object) -> None:
    # nginx_server: only run where nginx is installed (skip or fail like the other tests otherwise).
    broken = nginx(find_nginx(), Credentials("deployer", "pw"), realm='broken " realm')
    with pytest.raises(ServerStartError, match=r"exited with status(.|\n)*error\.log(.|\n)*emerg"), broken:
        pass
