"""PSI, verdicts and the drift report: pure arithmetic, no Spark."""

from __future__ import annotations

import math

import pytest

from registry.drift import EPSILON, DriftReport, Thresholds, VersionDrift, compare_column, psi, worst
from registry.exceptions import InvalidInput
from registry.profile import ColumnProfile


def _numeric(nulls: int = 0) -> ColumnProfile:
    return ColumnProfile(
        name="x",
        type="double",
        kind="numeric",
        count=1000,
        nulls=nulls,
        min=0.0,
        max=10.0,
        mean=5.0,
        stddev=2.9,
        edges=(2.5, 5.0, 7.5),
        fractions=(0.25, 0.25, 0.25, 0.25),
    )


def test_psi_of_identical_distributions_is_zero() -> None:
    assert psi([0.25] * 4, [0.25] * 4) == 0.0


def test_psi_matches_the_formula() -> None:
    expected, actual = [0.5, 0.5], [0.8, 0.2]
    by_hand = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(expected, actual) == pytest.approx(by_hand)
    assert psi(expected, actual) == pytest.approx(psi(actual, expected))  # symmetric


def test_an_empty_bin_counts_as_epsilon_not_infinity() -> None:
    value = psi([0.5, 0.5], [1.0, 0.0])
    assert math.isfinite(value)
    assert value == pytest.approx((1 - 0.5) * math.log(1 / 0.5) + (EPSILON - 0.5) * math.log(EPSILON / 0.5))


def test_an_empty_training_bin_counts_as_epsilon_not_infinity() -> None:
    # the scored data fills a bin the training data left empty: finite, and exactly the floor's figure
    value = psi([1.0, 0.0], [0.5, 0.5])
    assert math.isfinite(value)
    assert value == pytest.approx((0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - EPSILON) * math.log(0.5 / EPSILON))


def test_psi_refuses_different_bins() -> None:
    with pytest.raises(ValueError, match="same bins"):
        psi([1.0], [0.5, 0.5])


@pytest.mark.parametrize(
    ("value", "null_change", "verdict"),
    [
        (0.0, 0.0, "stable"),
        (0.099, 0.0, "stable"),
        (0.1, 0.0, "drifting"),
        (0.249, 0.0, "drifting"),
        (0.25, 0.0, "drifted"),
        (None, 0.0, "stable"),
        (0.0, 0.05, "drifting"),
        (0.0, -0.05, "drifting"),
        (0.0, 0.2, "drifted"),
        (None, 1.0, "drifted"),
    ],
)
def test_default_thresholds(value: float | None, null_change: float, verdict: str) -> None:
    assert Thresholds().verdict(value, null_change) == verdict


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(InvalidInput, match="drifting <= drifted"):
        Thresholds(psi_drifting=0.3, psi_drifted=0.2)


def test_worst() -> None:
    assert worst([]) == "stable"
    assert worst(["stable", "drifted", "drifting"]) == "drifted"


def test_compare_column_same_distribution_is_stable() -> None:
    drift = compare_column(_numeric(), "feature", rows=400, nulls=0, counts=[100, 100, 100, 100], outside=0)
    assert drift.psi == 0.0 and drift.verdict == "stable" and drift.outside_range == 0.0
    assert drift.actual == (0.25, 0.25, 0.25, 0.25)


def test_compare_column_shifted_and_more_nulls() -> None:
    shifted = compare_column(_numeric(), "feature", rows=400, nulls=0, counts=[0, 0, 40, 360], outside=300)
    assert shifted.verdict == "drifted" and shifted.psi is not None and shifted.psi > 1
    assert shifted.outside_range == 0.75
    nulls = compare_column(_numeric(), "feature", rows=400, nulls=100, counts=[75, 75, 75, 75], outside=0)
    assert nulls.psi == 0.0 and nulls.null_rate_change == 0.25 and nulls.verdict == "drifted"


def test_compare_column_with_no_values() -> None:
    drift = compare_column(_numeric(), "feature", rows=10, nulls=10, counts=[0, 0, 0, 0])
    assert drift.psi is None and drift.verdict == "drifted" and drift.outside_range is None


def test_compare_column_needs_a_count_per_bin() -> None:
    with pytest.raises(ValueError, match="3 counts for 4 bins"):
        compare_column(_numeric(), "feature", rows=3, nulls=0, counts=[1, 1, 1])


def test_categorical_bins_are_top_values_then_other() -> None:
    plan = ColumnProfile(
        name="plan",
        type="string",
        kind="categorical",
        count=10,
        nulls=0,
        distinct=3,
        top=(("basic", 0.6), ("pro", 0.3)),
        other=0.1,
    )
    assert plan.bins == 3 and plan.expected == (0.6, 0.3, 0.1)
    drift = compare_column(plan, "feature", rows=10, nulls=0, counts=[6, 3, 1])
    assert drift.psi == pytest.approx(0.0) and drift.outside_range is None


def _report() -> DriftReport:
    calm = compare_column(_numeric(), "feature", rows=400, nulls=0, counts=[100, 100, 100, 100], outside=0)
    shifted = compare_column(_numeric(), "feature", rows=400, nulls=0, counts=[0, 0, 40, 360], outside=300)
    return DriftReport(
        (VersionDrift("com.acme:churn:1.0.0", 400, (calm,)), VersionDrift("com.acme:churn:1.0.1", 400, (shifted,))),
    )


def test_report_verdict_and_fail_on() -> None:
    report = _report()
    assert [v.verdict for v in report.versions] == ["stable", "drifted"]
    assert report.verdict == "drifted" and report.fails("drifted") and report.fails("drifting")
    calm = DriftReport(report.versions[:1])
    assert not calm.fails("drifting") and not calm.fails("drifted")
    assert report.versions[1].with_verdict("drifted") == ("x",)


def test_report_json_round_trip_and_text() -> None:
    report = _report()
    assert DriftReport.from_json(report.to_json()) == report
    text = str(report)
    assert "com.acme:churn:1.0.1: 400 rows, drifted" in text and text.endswith("overall: drifted")


@pytest.mark.parametrize("text", ["", "[]", '{"versions": [{"version": "a"}]}', '{"versions": "no"}'])
def test_report_refuses_what_it_did_not_write(text: str) -> None:
    with pytest.raises(InvalidInput, match="Not a monitor report"):
        DriftReport.from_json(text)
