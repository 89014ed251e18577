"""What ``registry show`` and the catalog print of a training profile and of a monitor report (no Spark)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cardhelpers import HOSTILE, run_cli
from test_profile import _raw

from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.drift import DriftReport, VersionDrift, compare_column
from registry.modelcard import ModelCard
from registry.profile import Profile
from registry.repository.local import LocalRepository


@pytest.fixture
def profiled(local_repo: LocalRepository, make_model: Callable[..., Path]) -> Coordinate:
    card = replace(ModelCard.create("com.acme:churn:1.0"), profile=_raw())
    return deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card)


def _report(coordinate: Coordinate) -> DriftReport:
    age, plan, _ = Profile.from_dict(_raw()).features
    return DriftReport(
        (
            VersionDrift(
                str(coordinate),
                500,
                (
                    compare_column(age, "feature", rows=500, nulls=0, counts=[0, 100, 400], outside=250),
                    compare_column(plan, "feature", rows=500, nulls=0, counts=[300, 150, 50]),
                ),
            ),
        )
    )


def test_show_prints_the_profile(local_repo: LocalRepository, profiled: Coordinate) -> None:
    code, out, err = run_cli("show", str(profiled), "-r", str(local_repo.root))
    assert (code, err) == (0, "")
    assert "Training profile (100 rows)" in out
    assert "mean 41.2, sd 12.9, min 18, max 95" in out and "4 values: basic 60%, pro 30%, ..." in out


def test_catalog_shows_profile_and_drift(local_repo: LocalRepository, profiled: Coordinate, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(_report(profiled).to_json())
    site = tmp_path / "site"
    code, _, err = run_cli("catalog", "--out", str(site), "-r", str(local_repo.root), "--monitor", str(report))
    assert (code, err) == (0, "")
    page = (site / "com.acme.churn.html").read_text()
    assert "Training profile (4 columns) and drift" in page
    assert "drifted on 500 scored rows: age" in page
    assert '<td class="drift-drifted">drifted</td>' in page and '<td class="drift-stable">stable</td>' in page
    assert "mean 41.2, sd 12.9, min 18, max 95" in page

    plain = tmp_path / "plain"
    assert run_cli("catalog", "--out", str(plain), "-r", str(local_repo.root))[0] == 0
    page = (plain / "com.acme.churn.html").read_text()
    assert "Training profile (4 columns)</summary>" in page and "Verdict" not in page


def test_catalog_refuses_a_file_that_is_no_report(local_repo: LocalRepository, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{}")
    code, _, err = run_cli(
        "catalog", "--out", str(tmp_path / "s"), "-r", str(local_repo.root), "--monitor", str(tmp_path / "bad.json")
    )
    assert code == 2 and "Not a monitor report" in err and "registry monitor PATH --json" in err


def test_profile_text_is_escaped_in_the_catalog(
    local_repo: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    raw = _raw()
    raw["features"][1]["name"] = HOSTILE
    raw["features"][1]["top"] = [[HOSTILE, 1.0]]
    card = replace(ModelCard.create("com.acme:churn:1.0"), profile=raw)
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card)
    assert run_cli("catalog", "--out", str(tmp_path / "site"), "-r", str(local_repo.root))[0] == 0
    page = (tmp_path / "site" / "com.acme.churn.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
