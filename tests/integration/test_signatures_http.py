"""Signed releases over real HTTP servers: deploy to Apache (create-only PUTs of the .asc files and their
checksums), promote to an immutable nginx that requires signatures, resolve and verify there, and a jar replaced
on the server with its checksums recomputed is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from clients import open_dav
from gpgtools import Keys
from servers import DavRepo

from registry.checksums import digest_bytes
from registry.deploy import deploy
from registry.exceptions import SignatureError
from registry.promote import promote
from registry.resolve import resolve
from registry.settings import Settings
from registry.verify import verify


def test_signed_release_across_http_servers(
    gpg_keys: Keys,
    apache_repo: DavRepo,
    immutable_repo: DavRepo,
    make_model: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    trust = {"require_signatures": True, "trusted_keys": (gpg_keys.signer,)}
    staging = open_dav(apache_repo, sign_with=gpg_keys.signer)
    releases = open_dav(immutable_repo, **trust)
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=staging)
    for name in ("jar", "pom"):
        for suffix in ("", ".md5", ".sha1", ".sha256", ".sha512"):
            assert staging.exists(f"{coordinate.path(name)}.asc{suffix}")

    done = promote(coordinate, source=staging, target=releases, require_signed_by=gpg_keys.signer)
    assert f"{coordinate.file_name('jar')}.asc" in done.files
    cache = tmp_path / "cache"
    assert resolve(coordinate, repository=releases, cache_dir=cache).coordinate == coordinate
    checked = verify(coordinate, repository=releases, settings=Settings.load())
    assert checked.ok, [str(f) for f in checked.files]

    jar = staging.read(coordinate.path("jar")) + b"appended after signing"
    apache_repo.write(coordinate.path("jar"), jar)
    for extension, content in digest_bytes(jar).sidecars():
        apache_repo.write(f"{coordinate.path('jar')}.{extension}", content)
    strict = open_dav(apache_repo, **trust)
    with pytest.raises(SignatureError, match=r"churn-1\.0\.0\.jar of .* has a BAD signature"):
        resolve(coordinate, repository=strict, cache_dir=cache)
