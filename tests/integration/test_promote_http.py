"""Promotion across real servers: local -> Apache, Apache -> nginx (immutable), and back to local."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from clients import open_dav
from servers import DavRepo

from registry.coordinates import Coordinate, Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, IntegrityError, VersionExists
from registry.modelcard import ModelCard
from registry.promote import promote
from registry.repository.local import LocalRepository
from registry.resolve import resolve
from registry.store import Cache, read_history, read_metadata, read_promotion_log


def test_local_to_http_to_http_and_back(
    apache_repo: DavRepo, immutable_repo: DavRepo, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    local = LocalRepository(tmp_path / "local")
    staging, releases = open_dav(apache_repo), open_dav(immutable_repo)
    card = ModelCard.create("x", metrics={"auc": 0.93})
    coordinate = deploy(make_model("v1"), "com.acme:churn:1.0", repository=local, card=card)
    assert promote(str(coordinate), source=local, target=staging, gates=["auc>=0.9"]).files
    done = promote("com.acme:churn:latest.release", source=staging, target=releases)
    assert done.coordinate == coordinate and not done.already_present
    for name in done.files:
        path = f"{coordinate.directory}/{name}"
        assert releases.read(path) == (local.root / path).read_bytes()
    resolved = resolve("com.acme:churn:latest.release", repository=releases, cache_dir=tmp_path / "cache")
    assert (resolved.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text() == "v1" * 100
    assert promote(str(coordinate), source=staging, target=releases).already_present
    back = LocalRepository(tmp_path / "back")
    promote(str(coordinate), source=releases, target=back)
    assert read_metadata(back, Module("com.acme", "churn")) is not None


def test_tampered_http_source_is_refused(
    apache_repo: DavRepo, immutable_repo: DavRepo, make_model: Callable[..., Path]
) -> None:
    staging, releases = open_dav(apache_repo), open_dav(immutable_repo)
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=staging)
    apache_repo.write(coordinate.path("jar"), b"PK\x03\x04 not the model")
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        promote(str(coordinate), source=staging, target=releases)
    assert read_metadata(releases, coordinate.module) is None


def test_target_holding_other_bytes_is_not_overwritten(
    apache_repo: DavRepo, immutable_repo: DavRepo, make_model: Callable[..., Path]
) -> None:
    staging, releases = open_dav(apache_repo), open_dav(immutable_repo)
    coordinate = deploy(make_model("a"), "com.acme:churn:1.0", repository=staging)
    deploy(make_model("b"), "com.acme:churn:1.0", repository=releases)
    jar_before = releases.read(coordinate.path("jar"))
    with pytest.raises(VersionExists, match="different bytes"):
        promote(str(coordinate), source=staging, target=releases)
    assert releases.read(coordinate.path("jar")) == jar_before


def test_concurrent_promotions_into_one_artifact_on_nginx_all_end_in_the_log(
    nginx_repo: DavRepo, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    staging = LocalRepository(tmp_path / "staging")
    built = [deploy(make_model(f"s{i}"), "com.acme:churn:1.0", repository=staging) for i in range(6)]
    target = open_dav(nginx_repo)
    deploy(make_model("r"), "com.acme:churn:2.0", repository=target)  # the artifact and its (empty) log exist
    failures: list[BaseException] = []

    def run(coordinate: Coordinate) -> None:
        try:
            promote(str(coordinate), source=staging, target=target)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in built]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    log = read_promotion_log(target, Module("com.acme", "churn"))
    assert log is not None and log.versions == {str(c.version) for c in built}


def test_a_promotion_racing_an_artifacts_first_deploy_on_nginx_stays_in_its_log(
    nginx_repo: DavRepo, make_model: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nginx ignores If-None-Match: the empty promotion log written by an artifact's first deploy must not replace
    the log that a promotion into that artifact wrote after the deploy found none."""
    staging = LocalRepository(tmp_path / "staging")
    promoted = deploy(make_model("s"), "com.acme:churn:1.0", repository=staging)
    deploying = open_dav(nginx_repo)
    log = f"{promoted.module.path}/maven-metadata.xml.promotions.json"
    transport = deploying.transport
    real_request, real_get_small = transport.request, transport.get_small
    promotion = threading.Thread(target=lambda: promote(str(promoted), source=staging, target=open_dav(nginx_repo)))

    def found_absent() -> None:  # the deploy found no log: the promotion runs now (for at most 5 s)
        if not promotion.is_alive() and promotion.ident is None:
            promotion.start()
            promotion.join(5)

    def request(method: str, path: str, *args: object, **kwargs: object) -> object:
        response = real_request(method, path, *args, **kwargs)
        if path == log and method == "HEAD" and response.status_code == 404:
            found_absent()
        return response

    def get_small(path: str, *args: object, **kwargs: object) -> object:
        try:
            return real_get_small(path, *args, **kwargs)
        except ArtifactNotFound:
            if path == log:
                found_absent()
            raise

    monkeypatch.setattr(transport, "request", request)
    monkeypatch.setattr(transport, "get_small", get_small)
    deploy(make_model("r"), "com.acme:churn:2.0", repository=deploying)
    promotion.join(60)
    assert promotion.ident is not None and not promotion.is_alive()
    history = read_history(promoted.module, open_dav(nginx_repo), cache=Cache(tmp_path / "cache"), promotions=True)
    shown = {str(card.coordinate.version): card.promotion is not None for card in history.cards}
    assert shown == {"2.0.0": False, "1.0.0": True}  # the promotion is shown, not hidden by the deploy's empty log
