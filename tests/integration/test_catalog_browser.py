"""The catalog as a real browser renders it: headless Chromium loads the pages from file:// and dumps the DOM.

The DOM is what the browser built after parsing (and after any script would have run), so it shows that versions
and charts render and that hostile card text stayed text: no element a card smuggled in exists.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cardhelpers import deploy_history, deploy_hostile, promotion_record, write_promotion
from realtools import require_tool

from registry.catalog import build_catalog
from registry.repository.local import LocalRepository

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require_tool(path is not None, "chromium (apt-get install chromium)")
    assert path is not None
    return path


def dump_dom(chromium: str, page: Path, profile: Path) -> _Dom:
    done = subprocess.run(
        [chromium, *_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    dom = _Dom()
    dom.feed(done.stdout)
    assert dom.tags, done.stderr[-2000:]
    return dom


def test_the_catalog_renders_in_chromium(
    chromium: str, local_repo: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    history = deploy_history(local_repo, make_model)
    write_promotion(local_repo, history[2], promotion_record(history[2]))
    deploy_hostile(local_repo, make_model)
    site = build_catalog(tmp_path / "site", repository=local_repo).parent

    index = dump_dom(chromium, site / "index.html", tmp_path / "profile-1")
    links = [a.get("href") for t, a in index.tags if t == "a"]
    assert links == ["com.acme.risk.fraud.html", "com.acme.churn.html"]
    index_text = "".join(index.text)
    assert "<script>alert(1)</script>" in index_text  # the hostile description, shown as text
    assert not [t for t, _ in index.tags if t in ("script", "img")]

    churn = dump_dom(chromium, site / "com.acme.churn.html", tmp_path / "profile-2")
    sections = [a.get("id") for t, a in churn.tags if t == "section"]
    assert sections == ["v2.0.0", "v1.1.1", "v1.1.0", "v1.0.1", "v1.0.0"]
    assert sum(t == "svg" for t, _ in churn.tags) == 3
    circles = [a.get("data-version") for t, a in churn.tags if t == "circle"]
    assert circles[:5] == ["1.0.0", "1.0.1", "1.1.0", "1.1.1", "2.0.0"]
    assert sum(t == "polyline" for t, _ in churn.tags) == 2
    text = "".join(churn.text)
    assert "1.1.0: 0.91" in text and "Promotion history" in text and "bob@ci-7" in text

    fraud = dump_dom(chromium, site / "com.acme.risk.fraud.html", tmp_path / "profile-3")
    assert not [t for t, _ in fraud.tags if t in ("script", "img", "b", "iframe")]
    assert not [a for _, a in fraud.tags if any(k.startswith("on") for k in a)]
    text = "".join(fraud.text)
    assert "<script>alert(1)</script>" in text and "auc</text><script>alert(3)</script>" in text
