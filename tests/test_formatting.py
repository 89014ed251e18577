"""Values and people, formatted once: the rules, and the terminal and the HTML catalog showing the same text."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cardhelpers import run_cli

from registry import formatting
from registry.catalog import build_catalog
from registry.deploy import deploy
from registry.modelcard import ModelCard
from registry.promotion import GateRecord
from registry.repository.local import LocalRepository


@pytest.mark.parametrize(
    ("item", "shown"),
    [
        (None, "-"),
        (True, "true"),
        (False, "false"),
        (10, "10"),
        (15_000, "15000"),
        (0.91, "0.91"),
        (1.0, "1.0"),  # a float param never reads as an integer one
        (-2.0, "-2.0"),
        (100000.0, "100000.0"),
        (0.123456789, "0.123457"),
        (1e-08, "1e-08"),
        (1234567.0, "1.23457e+06"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        ("plan_idx", "plan_idx"),
        ("", ""),
        (["plan_idx", "tenure"], '["plan_idx","tenure"]'),  # the form search --param takes
        ({"a": [1, 2.5], "b": None}, '{"a":[1,2.5],"b":null}'),
        ("x" * 200, "x" * 159 + "…"),
    ],
)
def test_values(item: Any, shown: str) -> None:
    assert formatting.value(item) == shown


def test_people_times_fingerprints_sizes() -> None:
    assert formatting.who({"user": "alice", "host": "trainer-1"}) == "alice@trainer-1"
    assert (formatting.who({"user": "alice"}), formatting.who(["junk"])) == ("alice@?", "?@?")
    assert formatting.time("2024-01-18T09:30:00Z") == "2024-01-18T09:30:00Z"
    assert formatting.time("2024-01-18T09:30:00.123456+00:00") == "2024-01-18T09:30:00Z"
    assert formatting.time("2024-01-18T10:30:00+01:00") == "2024-01-18T09:30:00Z"
    assert formatting.time(dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)) == "2024-03-01T00:00:00Z"
    assert (formatting.time("yesterday"), formatting.time(None), formatting.time(7)) == ("yesterday", "-", "7")
    bob = {"user": "bob", "host": "ci-7"}
    assert formatting.when_by("2024-01-18T09:30:00Z", bob) == "2024-01-18T09:30:00Z by bob@ci-7"
    assert formatting.fingerprint("bbbb222233334444") == "bbbb222233334444"
    assert formatting.fingerprint("bbbb222233334444", short=True) == "bbbb2222"
    assert formatting.fingerprint(None, short=True) == "-"
    assert [formatting.size(n) for n in (0, 1023, 1536, 22_400_000, 1 << 30, 1 << 50)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "21.4 MiB",
        "1.0 GiB",
        "1024.0 TiB",
    ]


def test_card_sections() -> None:
    assert formatting.delta(0.09) == "+0.09" and formatting.delta(-0.02) == "-0.02"
    assert (formatting.delta(0.0), formatting.delta(None)) == ("0", "-")
    assert formatting.commit({"commit": "abc", "dirty": True, "remote": "https://git/x.git"}) == (
        "abc (dirty) from https://git/x.git"
    )
    assert formatting.commit(None) is None
    assert formatting.metrics({"f1": 0.7, "auc": 0.8}) == [("auc", "0.8"), ("f1", "0.7")]
    assert formatting.training_data({"rows": 12_000, "fingerprint": "bbbb222233334444", "schema": "struct<>"}) == [
        ("fingerprint", "bbbb222233334444"),
        ("rows", "12000"),
    ]
    assert formatting.training_data("junk") == [] and formatting.metrics(None) == []
    assert formatting.gate(GateRecord("auc>=0.9", "auc", 0.91, True)) == "auc>=0.9 (actual 0.91)"
    assert formatting.gate(GateRecord("auc>=0.9", "auc", None, False)) == "auc>=0.9 (actual -)"
    assert (formatting.verdict(True), formatting.verdict(False)) == ("passed", "FAILED")
    assert (formatting.labels(["candidate", "prod"]), formatting.labels(())) == ("candidate, prod", "-")


def test_the_terminal_and_the_catalog_show_the_same_text(
    local_repo: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    long_sql = "SELECT * FROM __THIS__ WHERE " + " AND ".join(f"c{i} > 0" for i in range(30))
    params = {
        "stepSize": 1.0,
        "regParam": 0.123456789,
        "maxDepth": 10,
        "cacheNodeIds": False,
        "inputCols": ["plan_idx", "tenure"],
        "options": {"k": [1, 2]},
        "statement": long_sql,
        "thresholds": None,
    }
    card = ModelCard.create(
        "com.acme:churn:1.0",
        metrics={"auc": 0.912345678, "rows_seen": 1200},
        model={"stages": [{"uid": "s", "class": "x.Stage", "params": params}]},
        training_data={"fingerprint": "bbbb222233334444", "rows": 15_000, "source": "s3a://b/churn"},
        code={"commit": "deadbeef", "remote": "https://git.acme.com/ml/churn.git", "dirty": True},
    )
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card)
    code, terminal, _ = run_cli("show", "com.acme:churn:1.0.0", "-r", str(local_repo.root))
    page = html.unescape(
        (build_catalog(tmp_path / "site", repository=local_repo).parent / "com.acme.churn.html").read_text()
    )
    assert code == 0
    shown = [formatting.value(v) for v in params.values()]
    assert shown[:6] == ["1.0", "0.123457", "10", "false", '["plan_idx","tenure"]', '{"k":[1,2]}']
    assert shown[6].endswith("…") and len(shown[6]) == formatting.MAX_TEXT
    for text in (
        *shown,
        "0.912346",
        "1200",
        "bbbb222233334444",
        "15000",
        "deadbeef (dirty) from https://git.acme.com/ml/churn.git",
        formatting.who(card.deployed_by),
        card.created,
    ):
        assert text in terminal, text
        assert text in page, text
