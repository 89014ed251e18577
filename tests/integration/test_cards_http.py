"""Cards over real HTTP (Apache WebDAV): search reads each card once, then only checksums; the catalog discovers
artifacts through the server's folder listings; the CLI works with credentials from the environment."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cardhelpers import CountingRepository, deploy_history, promotion_record, run_cli, write_promotion
from servers import DavRepo

from registry.catalog import build_catalog, discover_artifacts
from registry.coordinates import Module
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http import HttpRepository
from registry.search import Query, search
from registry.settings import Settings


def open_http(dav: DavRepo) -> HttpRepository:
    return HttpRepository(RepositoryConfig(dav.kind, dav.url), Credentials("test", dav.username, dav.password))


def test_a_repeated_search_over_http_downloads_no_card_again(
    apache_repo: DavRepo, make_model: Callable[..., Path], settings: Settings
) -> None:
    repository = open_http(apache_repo)
    history = deploy_history(repository, make_model)
    counting = CountingRepository(repository)
    query = Query.parse(params=["maxDepth=10"], metrics=["auc>0.85"])

    def versions() -> list[str]:
        return [
            str(r.coordinate.version) for r in search("com.acme:churn", query, repository=counting, settings=settings)
        ]

    shutil.rmtree(settings.cache_dir, ignore_errors=True)  # cold: the deploys cached their own cards
    assert versions() == ["1.1.1", "1.1.0"]
    assert len(counting.reads("-model.json")) == len(history)
    counting.calls.clear()
    assert versions() == ["1.1.1", "1.1.0"]
    # Warm: the metadata only (the cache's index knows each card as this server served it, verified).
    assert counting.calls == [("read", "com/acme/churn/maven-metadata.xml")]
    assert [p.name for p in (settings.cache_dir / "cards").rglob("*") if p.is_file()] == ["pack"]  # one per artifact


def test_catalog_and_cli_over_http(
    apache_repo: DavRepo, make_model: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = open_http(apache_repo)
    history = deploy_history(repository, make_model)
    write_promotion(repository, history[2], promotion_record(history[2]))
    assert discover_artifacts(repository) == ([Module("com.acme", "churn")], [])
    index = build_catalog(tmp_path / "site", repository=repository)
    page = (index.parent / "com.acme.churn.html").read_text()
    assert page.count('<section class="version"') == 5 and "bob@ci-7" in page
    assert apache_repo.password not in page

    monkeypatch.setenv("REGISTRY_USERNAME", apache_repo.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", apache_repo.password)
    code, out, err = run_cli("show", "com.acme:churn:1.1.0", "-r", apache_repo.url, "--json")
    assert code == 0, err
    assert json.loads(out)["promotion"]["promoted_by"]["user"] == "bob"
    code, out, _ = run_cli("search", "com.acme:churn", "-r", apache_repo.url, "--label", "prod", "--json")
    assert [card["coordinate"] for card in json.loads(out)] == ["com.acme:churn:2.0.0", "com.acme:churn:1.1.0"]
    code, out, _ = run_cli("diff", "com.acme:churn:1.0.1", "1.1.0", "-r", apache_repo.url, "--json")
    assert json.loads(out)["params"][0]["key"] == "maxDepth"
    code, out, err = run_cli("catalog", "--out", str(tmp_path / "cli-site"), "-r", apache_repo.url)
    assert code == 0 and out.splitlines()[-1] == str(tmp_path / "cli-site" / "index.html")
    assert apache_repo.password not in (tmp_path / "cli-site" / "index.html").read_text()
