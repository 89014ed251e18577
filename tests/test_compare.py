"""One comparison for the versioning guard and ``registry diff``: the same stages paired, the same differences."""

from __future__ import annotations

from typing import Any

from registry.compare import diff_cards
from registry.compatibility import compare_models
from registry.modelcard import ModelCard


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
