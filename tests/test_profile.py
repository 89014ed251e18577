"""The training profile as the card holds it: parsing, bins, and what show and the catalog print of it."""

from __future__ import annotations

from typing import Any

import pytest

from registry.exceptions import InvalidInput
from registry.profile import ColumnProfile, Profile, numeric_bin


def _raw() -> dict[str, Any]:
    return {
        "schema": 1,
        "rows": 100,
        "relative_error": 0.001,
        "features": [
            {
                "name": "age",
                "type": "int",
                "kind": "numeric",
                "count": 90,
                "nulls": 10,
                "min": 18.0,
                "max": 95.0,
                "mean": 41.2,
                "stddev": 12.9,
                "edges": [30.0, 50.0],
                "fractions": [0.3, 0.4, 0.3],
            },
            {
                "name": "plan",
                "type": "string",
                "kind": "categorical",
                "count": 100,
                "nulls": 0,
                "distinct": 4,
                "top": [["basic", 0.6], ["pro", 0.3]],
                "other": 0.1,
            },
            {"name": "v", "type": "vector", "kind": "unprofiled", "count": 100, "nulls": 0},
        ],
        "prediction": {
            "name": "prediction",
            "type": "double",
            "kind": "categorical",
            "count": 100,
            "nulls": 0,
            "distinct": 2,
            "top": [[0.0, 0.7], [1.0, 0.3]],
            "other": 0.0,
        },
        "probability": None,
    }


def test_round_trip() -> None:
    profile = Profile.from_dict(_raw())
    assert Profile.from_dict(profile.to_dict()) == profile
    age, plan, vector = profile.features
    assert age.null_rate == 0.1 and age.bins == 3 and age.expected == (0.3, 0.4, 0.3)
    assert plan.bins == 3 and plan.expected == (0.6, 0.3, 0.1)
    assert vector.bins == 0 and vector.expected == ()
    assert profile.prediction is not None and profile.prediction.top == ((0.0, 0.7), (1.0, 0.3))
    assert [c.name for c in profile.columns] == ["age", "plan", "v", "prediction"]


def test_summary_lines() -> None:
    age, plan, vector = Profile.from_dict(_raw()).features
    assert age.summary() == "mean 41.2, sd 12.9, min 18, max 95"
    assert plan.summary() == "4 values: basic 60%, pro 30%, ..."
    assert "not profiled" in vector.summary()


@pytest.mark.parametrize(("value", "expected"), [(-1.0, 0), (30.0, 0), (30.5, 1), (50.0, 1), (50.1, 2), (1e9, 2)])
def test_numeric_bin_edges_belong_to_the_lower_bin(value: float, expected: int) -> None:
    assert numeric_bin((30.0, 50.0), value) == expected


def test_malformed_profiles_are_refused() -> None:
    with pytest.raises(InvalidInput, match="no list of features"):
        Profile.from_dict({"rows": 1})
    raw = _raw()
    raw["features"][0]["fractions"] = [1.0]
    with pytest.raises(InvalidInput, match="one fraction more than edges"):
        Profile.from_dict(raw)
    with pytest.raises(InvalidInput, match="unknown kind"):
        ColumnProfile.from_dict({"name": "x", "kind": "image"})


def test_exact_quantiles_keep_a_relative_error_of_zero_and_older_cards_their_own() -> None:
    exact = {**_raw(), "relative_error": 0.0}
    assert Profile.from_dict(exact).relative_error == 0.0
    assert Profile.from_dict(Profile.from_dict(exact).to_dict()).relative_error == 0.0
    older = _raw()
    del older["relative_error"]
    assert Profile.from_dict(older).relative_error == 0.001  # Spark's percentile_approx, before exact sample deciles
