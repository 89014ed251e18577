"""The static catalog: discovery, pages, chart geometry, escaping, atomic replacement, the CLI.

tests/integration/test_catalog_browser.py opens the pages in a real browser.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cardhelpers import (
    HOSTILE,
    CountingRepository,
    deploy_history,
    deploy_hostile,
    promotion_record,
    run_cli,
    write_promotion,
)
from realtools import require_tool

from registry.catalog import MARKER, build_catalog, discover_artifacts, metric_chart
from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, InvalidInput
from registry.repository.local import LocalRepository
from registry.signing import gpg_available

NOW = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


class _Elements(HTMLParser):
    """Every start tag, with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


@pytest.fixture
def history(local_repo: LocalRepository, make_model: Callable[..., Path]) -> list[Coordinate]:
    deployed = deploy_history(local_repo, make_model)
    write_promotion(local_repo, deployed[2], promotion_record(deployed[2]))
    return deployed


def test_discovery_finds_every_artifact_and_skips_what_is_not_one(
    local_repo: LocalRepository, history: list[Coordinate], make_model: Callable[..., Path]
) -> None:
    deploy_hostile(local_repo, make_model)
    local_repo.create("org/Weird/name/maven-metadata.xml", b"<metadata/>")  # not a name we can parse
    local_repo.create("a/b/c/d/e/f/g/h/i/j/maven-metadata.xml", b"<metadata/>")  # deeper than we look
    modules, skipped = discover_artifacts(local_repo)
    assert modules == [Module("com.acme", "churn"), Module("com.acme.risk", "fraud")]
    assert skipped == [("org/Weird/name/", "not a GROUP:ARTIFACT this registry can name")]


def test_catalog_pages(local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path) -> None:
    index = build_catalog(tmp_path / "site", repository=local_repo, now=NOW)
    assert index == tmp_path / "site" / "index.html"
    assert sorted(p.name for p in index.parent.iterdir()) == [MARKER, "com.acme.churn.html", "index.html"]
    home = index.read_text()
    assert 'href="com.acme.churn.html"' in home and ">com.acme:churn</a>" in home
    assert "generated 2024-03-01T00:00:00Z" in home and local_repo.display in home
    page = (index.parent / "com.acme.churn.html").read_text()
    # Versions newest first, each with its anchor.
    anchors = re.findall(r'<section class="version" id="v([0-9.]+)">', page)
    assert anchors == ["2.0.0", "1.1.1", "1.1.0", "1.0.1", "1.0.0"]
    for expected in (
        "logistic regression with region",
        "alice@trainer-1",
        "bbbb222233334444",
        "f00d",
        "#0 StringIndexerModel &rarr; #1 VectorAssembler &rarr; #2 LogisticRegressionModel",
        "Params of #2 GBTClassificationModel",
        "Promotion history",
        "bob@ci-7",
        "carol@ci-3",
        "auc&gt;=0.9",
        "not promoted into this repository",
    ):
        assert expected in page, expected
    tags = elements(page)
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "img")]
    csp = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")


def test_one_chart_per_metric_with_a_point_per_build(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    page = (build_catalog(tmp_path / "site", repository=local_repo).parent / "com.acme.churn.html").read_text()
    tags = elements(page)
    assert sum(t == "svg" for t, _ in tags) == 3  # auc, f1, logLoss
    points = [a["data-version"] for t, a in tags if t == "circle"]
    assert points == ["1.0.0", "1.0.1", "1.1.0", "1.1.1", "2.0.0"] * 2 + ["1.1.1"]
    assert "<title>1.1.0: 0.91</title>" in page
    assert sum(t == "polyline" for t, _ in tags) == 2  # one point draws no line


def test_chart_geometry() -> None:
    chart = metric_chart("auc", [("1.0.0", 0.80), ("1.0.1", 0.82), ("1.1.0", 0.91)])
    assert [p.version for p in chart.points] == ["1.0.0", "1.0.1", "1.1.0"]
    xs, ys = [p.x for p in chart.points], [p.y for p in chart.points]
    assert xs == sorted(xs) and xs[0] == chart.left and xs[-1] == chart.right
    assert ys[2] < ys[1] < ys[0]  # higher values are drawn higher
    assert all(chart.top <= y <= chart.bottom for y in ys)
    labels = [t.label for t in chart.ticks]
    assert labels == ["0.8", "0.85", "0.9", "0.95"]  # round steps covering 0.80 to 0.91
    assert chart.ticks[0].y == chart.bottom and chart.ticks[-1].y == chart.top
    assert chart.polyline.count(",") == 3


def test_chart_edge_cases() -> None:
    single = metric_chart("auc", [("1.0.0", 0.5)])
    assert len(single.points) == 1 and single.left < single.points[0].x < single.right
    assert single.top < single.points[0].y < single.bottom
    flat = metric_chart("rmse", [("1.0.0", 0.0), ("1.0.1", 0.0)])
    assert flat.points[0].y == flat.points[1].y and flat.top < flat.points[0].y < flat.bottom
    many = metric_chart("auc", [(f"1.0.{i}", i / 200) for i in range(200)])
    assert many.width <= 64 + 720 + 24
    labelled = [p.version for p in many.points if p.labelled]
    assert labelled[-1] == "1.0.199" and 10 < len(labelled) < 100  # thinned, the newest always labelled


def test_hostile_card_text_is_escaped_everywhere(
    local_repo: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    deploy_hostile(local_repo, make_model)
    site = build_catalog(tmp_path / "site", repository=local_repo).parent
    for page in (site / "index.html", site / "com.acme.risk.fraud.html"):
        html = page.read_text()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert not [t for t, _ in elements(html) if t in ("script", "img", "b")]
        assert "onerror" not in " ".join(f"{k}" for _, a in elements(html) for k in a)
    assert HOSTILE not in (site / "com.acme.risk.fraud.html").read_text()


def test_a_previous_catalog_is_replaced_and_other_directories_are_refused(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build_catalog(out, repository=local_repo)
    (out / "stale.html").write_text("old")
    build_catalog(out, repository=local_repo)
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind
    (tmp_path / "empty").mkdir()
    assert build_catalog(tmp_path / "empty", repository=local_repo).is_file()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(InvalidInput, match="holds no catalog"):
        build_catalog(tmp_path / "mine", repository=local_repo)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match="it is a file"):
        build_catalog(tmp_path / "file", repository=local_repo)


def test_named_artifacts_only(
    local_repo: LocalRepository, history: list[Coordinate], make_model: Callable[..., Path], tmp_path: Path
) -> None:
    deploy_hostile(local_repo, make_model)
    site = build_catalog(tmp_path / "site", repository=local_repo, artifacts=["com.acme.risk:fraud"]).parent
    assert sorted(p.name for p in site.glob("*.html")) == ["com.acme.risk.fraud.html", "index.html"]
    with pytest.raises(ArtifactNotFound, match=re.escape("com.acme:nothing has no released versions")):
        build_catalog(tmp_path / "other", repository=local_repo, artifacts=["com.acme:nothing"])


def test_an_empty_repository_gives_an_empty_catalog(local_repo: LocalRepository, tmp_path: Path) -> None:
    index = build_catalog(tmp_path / "site", repository=local_repo)
    assert "No artifacts found" in index.read_text()


def test_catalog_from_the_command_line(local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path) -> None:
    code, out, err = run_cli("catalog", "--out", str(tmp_path / "site"), "-r", str(local_repo.root))
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == str(tmp_path / "site" / "index.html")
    code, out, err = run_cli("catalog", "--out", str(tmp_path / "x"), "-r", str(local_repo.root), "--artifact", "bad")
    assert code == 2 and err.startswith("registry: error: Invalid coordinate: 'bad'") and err.count("\n") == 1
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    code, _, err = run_cli("catalog", "--out", str(tmp_path / "mine"), "-r", str(local_repo.root))
    assert code == 2 and "holds no catalog" in err and err.count("\n") == 1


def _no_threads(*args: object, **kwargs: object) -> None:
    raise AssertionError("a thread pool was asked to run something")


def test_a_warm_catalog_reads_the_metadata_and_its_logs_only_and_starts_no_thread(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    counting = CountingRepository(local_repo)
    build_catalog(out, repository=counting, artifacts=["com.acme:churn"], now=NOW)
    page = (out / "com.acme.churn.html").read_text()
    counting.calls.clear()
    monkeypatch.setattr(ThreadPoolExecutor, "submit", _no_threads)
    build_catalog(out, repository=counting, artifacts=["com.acme:churn"], now=NOW)
    # Cards, promotion records and signature checks of releases are all known to the cache; the promotion log (which
    # versions have a record: those it does not name are not remembered absent) and the yank log (which versions are
    # yanked, so not listed but shown) are a small read each beside the metadata (read ahead with it over HTTP).
    assert counting.calls == [
        ("read", "com/acme/churn/maven-metadata.xml"),
        ("read", "com/acme/churn/maven-metadata.xml.promotions.json"),
        ("read", "com/acme/churn/maven-metadata.xml.yanks.json"),
    ]
    assert (out / "com.acme.churn.html").read_text() == page


def test_damaged_notes_of_signature_checks_are_checked_again(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    require_tool(gpg_available(), "gpg (without it and a policy nothing is checked, so nothing is noted)")
    out = tmp_path / "site"
    build_catalog(out, repository=local_repo, artifacts=["com.acme:churn"], now=NOW)
    page = (out / "com.acme.churn.html").read_text()
    (notes,) = (Path(os.environ["REGISTRY_CACHE"]) / "cards").rglob("notes")
    notes.write_bytes(notes.read_bytes().replace(b'"policy"', b'"polite"'))  # no record is about this policy
    counting = CountingRepository(local_repo)
    build_catalog(out, repository=counting, artifacts=["com.acme:churn"], now=NOW)
    assert (out / "com.acme.churn.html").read_text() == page
    assert b'"policy"' in notes.read_bytes()  # each card's signature checked again, and noted
    assert counting.reads("-model.json.asc") == []  # without asking for an .asc: their deploys signed nothing


def test_the_keyring_is_looked_at_once_per_catalog_not_once_per_card(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A check remembered is believed only while the keyring is as it was: its state (a stat of each keyring file)
    # is taken once, before the catalog's checks, not three stats per card (1,000 cards: 3,000).
    import registry.signing

    looked: list[object] = []
    state = registry.signing.keyring_state
    monkeypatch.setattr(registry.signing, "keyring_state", lambda home: looked.append(home) or state(home))
    for _ in range(2):  # cold, then warm
        looked.clear()
        build_catalog(tmp_path / "site", repository=local_repo, artifacts=["com.acme:churn"], now=NOW)
        assert len(history) > 1 and len(looked) == 1
