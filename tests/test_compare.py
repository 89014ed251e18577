"""One comparison for the versioning guard and ``registry diff``: the same stages paired, the same differences."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.compare import diff_cards
from registry.compatibility import compare_models
from registry.modelcard import ModelCard, TrainingData


def stage(uid: str, cls: str, **params: Any) -> dict[str, Any]:
    return {"uid": uid, "class": cls, "params": params}


def card(*stages: dict[str, Any], version: str = "1.0.0") -> ModelCard:
    return ModelCard.create(f"com.acme:churn:{version}", model={"stages": list(stages)})


def rows(a: ModelCard, b: ModelCard, section: str) -> list[tuple[Any, ...]]:
    return [(c.stage, c.key, c.a, c.b) for c in diff_cards(a, b).section(section)]


def test_stages_of_one_class_swapped_are_a_reorder_for_both() -> None:
    # Refit with the indexers swapped: by uid nothing was reconfigured, the order changed. (Paired by position,
    # the guard used to call this a new inputCol while the diff saw nothing at all.)
    before = card(stage("idx_p", "x.Indexer", inputCol="plan"), stage("idx_r", "x.Indexer", inputCol="region"))
    after = card(stage("idx_r", "x.Indexer", inputCol="region"), stage("idx_p", "x.Indexer", inputCol="plan"))
    assert rows(before, after, "params") == []
    assert rows(before, after, "stages") == [
        ("#1 Indexer / #0 Indexer", "position", "#1", "#0"),
        ("#0 Indexer / #1 Indexer", "position", "#0", "#1"),
    ]
    verdict = compare_models(before, after)
    assert verdict.level == "major"
    assert str(verdict) == (
        'stages changed: #1 Indexer / #0 Indexer position "#1" -> "#0", #0 Indexer / #1 Indexer position "#0" -> "#1"'
    )
    assert not diff_cards(before, after).identical


def test_a_stage_inserted_before_a_refit_one_is_major_and_its_params_still_pair() -> None:
    before = card(stage("idx_1", "x.Indexer"), stage("lr_1", "x.LR", reg=0.1))
    after = card(stage("new_9", "x.Scaler"), stage("idx_1", "x.Indexer"), stage("lr_1", "x.LR", reg=0.2))
    assert rows(before, after, "params") == [("#1 LR / #2 LR", "reg", 0.1, 0.2)]
    assert rows(before, after, "stages") == [("#0 Scaler", "#0", None, "x.Scaler")]  # the others only shifted
    assert compare_models(before, after).differences == (
        "stages changed from [#0 Indexer, #1 LR] to [#0 Scaler, #1 Indexer, #2 LR]",
    )


def test_a_class_renamed_at_the_same_place_is_major_for_both() -> None:
    before = card(stage("lr_1", "pyspark.ml.classification.LR"))
    after = card(stage("lr_1", "org.apache.spark.ml.classification.LR"))
    assert rows(before, after, "stages") == [
        ("#0 LR", "class", "pyspark.ml.classification.LR", "org.apache.spark.ml.classification.LR")
    ]
    assert compare_models(before, after).differences == (
        'stages changed: #0 LR class "pyspark.ml.classification.LR" -> "org.apache.spark.ml.classification.LR"',
    )


def test_the_guard_words_exactly_the_params_the_diff_lists() -> None:
    before = card(stage("idx_1", "x.Indexer", outputCol="idx_1__out"), stage("lr_1", "x.LR", reg=0.1, maxIter=5))
    rebuilt = card(stage("idx_2", "x.Indexer", outputCol="idx_2__out"), stage("lr_2", "x.LR", reg=0.2, elasticNet=0.5))
    assert rows(before, rebuilt, "params") == [
        ("#1 LR", "elasticNet", None, 0.5),
        ("#1 LR", "maxIter", 5, None),
        ("#1 LR", "reg", 0.1, 0.2),
    ]
    assert compare_models(before, rebuilt).differences == (
        'elasticNet of stage #1 LR: "<unset>" -> 0.5',
        'maxIter of stage #1 LR: 5 -> "<unset>"',
        "reg of stage #1 LR: 0.1 -> 0.2",
    )
    refit = card(stage("idx_3", "x.Indexer", outputCol="idx_3__out"), stage("lr_3", "x.LR", reg=0.1, maxIter=5))
    assert rows(before, refit, "params") == [] and compare_models(before, refit).level == "none"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)
_stage_entry = st.fixed_dictionaries(
    {},
    optional={
        "uid": _json | st.sampled_from(["u1", "u2"]),
        "class": _json | st.sampled_from(["x.A", "x.B"]),
        "params": _json | st.dictionaries(st.sampled_from(["k", "m"]), _json, max_size=2),
        "input_cols": _json | st.lists(st.sampled_from(["a", "b"]), max_size=2),
        "output_cols": _json,
        "stages": _json,
    },
)
_card_parts = st.fixed_dictionaries(
    {},
    optional={
        "model": _json | st.fixed_dictionaries({"stages": _json | st.lists(_stage_entry | _json, max_size=4)}),
        "input_schema": _json | st.lists(st.dictionaries(st.sampled_from(["name", "type", "nullable"]), _json)),
        "training_data": _json,
        "code": _json,
        "metrics": _json,
        "labels": st.lists(_json, max_size=3),
    },
)


@settings(max_examples=200, deadline=None)
@given(a=_card_parts, b=_card_parts)
def test_any_card_reads_diffs_and_gets_a_verdict_without_raising(a: dict[str, Any], b: dict[str, Any]) -> None:
    def read(parts: dict[str, Any], version: str) -> ModelCard:
        head = {"coordinate": f"com.acme:churn:{version}", "created": "", "deployed_by": {}, "tools": {}}
        return ModelCard.from_json(json.dumps({**head, **parts}).encode())

    first, second = read(a, "1.0.0"), read(b, "1.0.1")
    for one in (first, second):
        assert isinstance(one.stages, tuple) and isinstance(one.features, tuple)
        assert one.training is None or isinstance(one.training, TrainingData)
        assert one.lineage is None or isinstance(one.lineage.commit, str)
    found = diff_cards(first, second)
    json.loads(found.to_json())
    assert compare_models(first, second).level in ("none", "minor", "major")
    assert compare_models(first, first).level == "none" and diff_cards(second, second).section("params") == []
