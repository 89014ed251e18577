"""The model card: its JSON form, and the typed views (stages, features, columns, training data, lineage)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

from registry.modelcard import CodeLineage, Column, ModelCard, TrainingData, features, stages

_NOW = dt.datetime(2024, 1, 15, 9, 30, tzinfo=dt.timezone.utc)


def full_card() -> ModelCard:
    card = ModelCard.create(
        "com.acme:churn:1.0",
        description="LR",
        labels=["candidate"],
        metrics={"auc": 0.91},
        model={
            "stages": [
                {"uid": "va", "class": "x.VectorAssembler", "params": {}, "input_cols": ["age", "plan"]},
                {"uid": "lr", "class": "x.LogisticRegressionModel", "params": {"maxIter": 10}},
            ]
        },
        input_schema=[{"name": "age", "type": "int", "nullable": False}, {"name": "plan", "type": "string"}],
        training_data={"rows": 60, "schema": "struct<age:int>", "fingerprint": "ab12", "source": "file:/d"},
        code={"commit": "c0ffee", "remote": "https://git.acme.com/churn.git", "dirty": True},
        now=_NOW,
    )
    return replace(
        card, deployed_by={"user": "alice", "host": "h"}, tools={"registry": "0", "python": "3", "spark": None}
    )


def test_the_json_form_is_stable_and_reading_the_typed_views_leaves_it_alone() -> None:
    card = full_card()
    before = card.to_json()
    assert card.stages and card.features and card.input_columns and card.training and card.lineage
    assert card.to_json() == before
    expected = {
        "schema": 1,
        "coordinate": "com.acme:churn:1.0",
        "created": "2024-01-15T09:30:00Z",
        "deployed_by": {"user": "alice", "host": "h"},
        "tools": {"registry": "0", "python": "3", "spark": None},
        "description": "LR",
        "labels": ["candidate"],
        "metrics": {"auc": 0.91},
        "model": card.model,
        "input_schema": [{"name": "age", "type": "int", "nullable": False}, {"name": "plan", "type": "string"}],
        "output_columns": None,
        "training_data": {"rows": 60, "schema": "struct<age:int>", "fingerprint": "ab12", "source": "file:/d"},
        "code": {"commit": "c0ffee", "remote": "https://git.acme.com/churn.git", "dirty": True},
        "previous": None,
    }
    assert before == (json.dumps(expected, indent=2, sort_keys=True) + "\n").encode()
    assert ModelCard.from_json(before).to_json() == before


def test_typed_views_of_a_card_read_back() -> None:
    card = ModelCard.from_json(full_card().to_json())
    assert [(s.label, s.uid) for s in card.stages] == [
        ("#0 VectorAssembler", "va"),
        ("#1 LogisticRegressionModel", "lr"),
    ]
    assert card.features == ("age", "plan") == features(card)
    assert stages(card) == list(card.stages)
    assert card.input_columns == (Column("age", "int", nullable=False), Column("plan", "string"))
    assert [str(c) for c in card.input_columns] == ["int not null", "string"]
    assert card.training == TrainingData(rows=60, schema="struct<age:int>", fingerprint="ab12", source="file:/d")
    assert card.lineage == CodeLineage("c0ffee", "https://git.acme.com/churn.git", dirty=True)


def test_a_card_without_model_data_or_code_has_empty_views() -> None:
    card = ModelCard.create("com.acme:churn:1.0")
    assert (card.stages, card.features, card.input_columns, card.training, card.lineage) == ((), (), None, None, None)


def test_malformed_parts_read_as_nothing_never_as_errors() -> None:
    raw = {
        "coordinate": "com.acme:churn:1.0.0",
        "created": "2024-01-15T09:30:00Z",
        "deployed_by": {},
        "tools": {},
        "model": {"stages": [7, {"class": "x.A", "params": [1], "input_cols": "age"}]},
        "input_schema": ["age", {"name": 3}, {"name": "plan", "type": 5}],
        "training_data": {"rows": "many", "fingerprint": 12, "source": "file:/d", "table_version": True},
        "code": {"commit": None, "dirty": "yes"},
    }
    card = ModelCard.from_json(json.dumps(raw).encode())
    assert [(s.path, s.class_name, dict(s.params), s.input_cols) for s in card.stages] == [("1", "x.A", {}, ())]
    assert card.input_columns == (Column("plan", None),) and str(card.input_columns[0]) == "?"
    assert card.training == TrainingData(source="file:/d")
    assert card.lineage is None
    assert ModelCard.from_json(json.dumps({**raw, "model": "junk", "training_data": [1]}).encode()).training is None
    assert ModelCard.from_json(json.dumps({**raw, "model": "junk"}).encode()).stages == ()
