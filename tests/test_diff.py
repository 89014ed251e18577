"""Diff: metrics with deltas, params per stage (paired by uid, then position and class), schema, data, code; CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cardhelpers import deploy_history, run_cli

from registry.coordinates import Coordinate
from registry.diff import CardDiff, diff, diff_cards
from registry.exceptions import ArtifactNotFound, InvalidSelector
from registry.modelcard import ModelCard
from registry.repository.local import LocalRepository


@pytest.fixture
def history(local_repo: LocalRepository, make_model: Callable[..., Path]) -> list[Coordinate]:
    return deploy_history(local_repo, make_model)


def rows(result: CardDiff, section: str) -> list[tuple[Any, ...]]:
    return [
        (c.stage, c.key, c.a, c.b) if section in ("params", "stages") else (c.key, c.a, c.b)
        for c in result.section(section)
    ]


def test_a_retrain_differs_in_data_and_metrics_only(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    _, _, result = diff("com.acme:churn:1.0.0", "1.0.1", repository=local_repo)
    assert (result.a, result.b) == ("com.acme:churn:1.0.0", "com.acme:churn:1.0.1")
    assert [(c.key, c.a, c.b, round(c.delta or 0, 6)) for c in result.section("metrics")] == [
        ("auc", 0.80, 0.82, 0.02),
        ("f1", 0.70, 0.71, 0.01),
    ]
    assert rows(result, "params") == [] and rows(result, "stages") == [] and rows(result, "input_schema") == []
    assert rows(result, "training_data") == [
        ("fingerprint", "aaaa111122223333", "bbbb222233334444"),
        ("rows", 10_000, 12_000),
        ("source", "file:/data/churn/2024-01 (4 files)", "file:/data/churn/2024-02 (4 files)"),
    ]
    assert rows(result, "code") == []
    assert rows(result, "labels") == [("labels", ["baseline"], ["candidate"])]


def test_a_new_configuration_differs_in_params_and_code(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    _, _, result = diff("com.acme:churn:1.0", "com.acme:churn:1.1.0", repository=local_repo)
    assert result.a == "com.acme:churn:1.0.1"
    assert rows(result, "params") == [("#2 GBTClassificationModel", "maxDepth", 5, 10)]
    assert rows(result, "code") == [
        ("commit", "c0ffee".ljust(40, "0"), "deadbeef".ljust(40, "0")),
        ("dirty", False, True),
    ]
    assert rows(result, "training_data") == []


def test_a_new_technique_pairs_stages_by_position_and_class(
    local_repo: LocalRepository, history: list[Coordinate]
) -> None:
    _, _, result = diff("com.acme:churn:1.1", "latest.release", repository=local_repo)
    assert (result.a, result.b) == ("com.acme:churn:1.1.1", "com.acme:churn:2.0.0")
    # New uids (a pipeline built again), so the indexer and assembler pair by position and class.
    assert rows(result, "params") == [("#0 StringIndexerModel", "handleInvalid", "keep", "skip")]
    assert rows(result, "stages") == [
        ("#2 GBTClassificationModel", "#2", "org.apache.spark.ml.classification.GBTClassificationModel", None),
        ("#2 LogisticRegressionModel", "#2", None, "org.apache.spark.ml.classification.LogisticRegressionModel"),
    ]
    assert rows(result, "input_schema") == [("region", None, "string")]
    logloss = next(c for c in result.section("metrics") if c.key == "logLoss")
    assert (logloss.a, logloss.b, logloss.delta) == (0.31, None, None)


def test_stages_pair_by_uid_even_when_moved_and_uids_in_values_are_not_changes() -> None:
    def stage(uid: str, cls: str, **params: Any) -> dict[str, Any]:
        return {"uid": uid, "class": cls, "params": params}

    a = ModelCard.create(
        "com.acme:churn:1.0.0",
        model={"stages": [stage("idx_1", "x.Indexer", outputCol="idx_1__output"), stage("lr_1", "x.LR", reg=0.1)]},
    )
    b = ModelCard.create(
        "com.acme:churn:1.0.1",
        model={
            "stages": [
                stage("new_9", "x.Scaler", withMean=True),
                stage("idx_2", "x.Indexer", outputCol="idx_2__output"),
                stage("lr_1", "x.LR", reg=0.2),
            ]
        },
    )
    result = diff_cards(a, b)
    assert rows(result, "params") == [("#1 LR / #2 LR", "reg", 0.1, 0.2)]  # the same uid, moved
    assert rows(result, "stages") == [
        ("#0 Indexer", "#0", "x.Indexer", None),
        ("#0 Scaler", "#0", None, "x.Scaler"),
        ("#1 Indexer", "#1", None, "x.Indexer"),
    ]
    c = ModelCard.create(
        "com.acme:churn:1.0.2", model={"stages": [stage("idx_3", "x.Indexer", outputCol="idx_3__output")]}
    )
    assert rows(diff_cards(a, c), "params") == []  # paired by position and class; only the uid differs


def test_schema_nullability_and_removed_columns() -> None:
    a = ModelCard.create(
        "com.acme:churn:1.0.0",
        input_schema=[
            {"name": "a", "type": "int", "nullable": True},
            {"name": "b", "type": "string", "nullable": True},
        ],
    )
    b = ModelCard.create("com.acme:churn:1.0.1", input_schema=[{"name": "a", "type": "int", "nullable": False}])
    assert rows(diff_cards(a, b), "input_schema") == [("a", "int", "int not null"), ("b", "string", None)]


def test_the_same_version_is_identical(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    _, _, result = diff("com.acme:churn:1.1.0", "1.1.0", repository=local_repo)
    assert result.identical
    assert all(c.delta == 0 for c in result.section("metrics"))
    assert [c.section for c in result.changes] == ["metrics", "metrics"]


def test_json_has_every_section(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    code, out, _ = run_cli("diff", "com.acme:churn:1.0.1", "1.1.0", "-r", str(local_repo.root), "--json")
    data = json.loads(out)
    assert code == 0 and data["identical"] is False
    assert list(data) == [
        "a",
        "b",
        "identical",
        "metrics",
        "params",
        "stages",
        "input_schema",
        "training_data",
        "code",
        "labels",
    ]
    assert data["params"] == [{"key": "maxDepth", "a": 5, "b": 10, "stage": "#2 GBTClassificationModel", "delta": None}]
    auc = data["metrics"][0]
    assert (auc["key"], auc["a"], auc["b"]) == ("auc", 0.82, 0.91) and auc["delta"] == pytest.approx(0.09)


def test_diff_table(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    code, out, err = run_cli("diff", "com.acme:churn:1.1.1", "2.0.0", "-r", str(local_repo.root))
    assert (code, err) == (0, "")
    for expected in (
        "com.acme:churn:1.1.1  ->  com.acme:churn:2.0.0",
        "Metrics",
        "-0.02",
        "Params",
        "#0 StringIndexerModel",
        "handleInvalid",
        "Stages",
        "LogisticRegressionModel",
        "Input schema",
        "region",
        "Code",
        "f00d",
        "Labels",
    ):
        assert expected in out, expected
    code, out, _ = run_cli("diff", "com.acme:churn:1.1.0", "1.1.0", "-r", str(local_repo.root))
    assert code == 0 and "No differences" in out


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["com.acme:churn:1.0.0", "1.1+"], "Invalid version selector: '1.1+'", 2),
        (["com.acme:churn:1.0.0", "com.acme:churn"], "Invalid coordinate: 'com.acme:churn'", 2),
        (["churn", "1.0.0"], "Invalid coordinate: 'churn'", 2),
        (["com.acme:churn:1.0.0", "9.0.0"], "com.acme:churn:9.0.0 has no model card", 1),
        (["com.acme:churn:1.0.0", "com.acme:other:1.0"], "com.acme:other has no released versions", 1),
    ],
)
def test_diff_errors_are_one_line(
    local_repo: LocalRepository, history: list[Coordinate], args: list[str], message: str, code: int
) -> None:
    exit_code, out, err = run_cli("diff", *args, "-r", str(local_repo.root))
    assert exit_code == code and message in err and out == ""
    assert err.startswith("registry: error: ") and err.count("\n") == 1


def test_library_errors(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    with pytest.raises(InvalidSelector):
        diff("com.acme:churn:1.0.0", "x.y", repository=local_repo)
    with pytest.raises(ArtifactNotFound):
        diff("com.acme:churn:1.0.0", "3.0", repository=local_repo)
