from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry.compatibility import compare_models
from registry.deploy import deploy
from registry.exceptions import ModelChanged, RepositoryUnavailable
from registry.fsck import check
from registry.modelcard import ModelCard, features
from registry.repository.local import LocalRepository
from registry.settings import Settings


def card(
    max_iter: int = 10,
    *,
    uid: str = "LogisticRegression_aa11",
    extra_stage: bool = False,
    columns: tuple[str, ...] = ("age", "income"),
) -> ModelCard:
    stages: list[dict[str, Any]] = [
        {
            "uid": "VectorAssembler_bb22",
            "class": "pyspark.ml.feature.VectorAssembler",
            "params": {"inputCols": list(columns), "outputCol": "VectorAssembler_bb22__output"},
        },
        {
            "uid": uid,
            "class": "pyspark.ml.classification.LogisticRegression",
            "params": {"maxIter": max_iter, "regParam": 0.01, "rawPredictionCol": f"{uid}__raw"},
        },
    ]
    if extra_stage:
        stages.append({"uid": "SQLTransformer_cc33", "class": "pyspark.ml.feature.SQLTransformer", "params": {}})
    schema = [{"name": c, "type": "double", "nullable": True} for c in columns]
    return ModelCard.create("com.acme:churn:1.0", model={"stages": stages}, input_schema=schema)


def test_a_retrain_with_new_uids_is_no_change() -> None:
    assert compare_models(card(), card(uid="LogisticRegression_ff99")).level == "none"


def test_a_param_change_is_minor_and_says_what_changed() -> None:
    change = compare_models(card(10), card(20))
    assert change.level == "minor"
    assert change.differences == ("maxIter of stage #1 LogisticRegression: 10 -> 20",)


@pytest.mark.parametrize("other", [card(extra_stage=True), card(columns=("age", "income", "tenure"))])
def test_new_stages_or_features_are_major(other: ModelCard) -> None:
    assert compare_models(card(), other).level == "major"


def test_deploy_refuses_a_changed_configuration_and_suggests_the_next_minor(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    deploy(make_model(), "com.acme:churn:1.2", repository=local_repo, card=card(10))
    deploy(make_model(), "com.acme:churn:1.2", repository=local_repo, card=card(10, uid="LogisticRegression_x"))
    with pytest.raises(ModelChanged) as err:
        deploy(make_model(), "com.acme:churn:1.2", repository=local_repo, card=card(20))
    assert "maxIter of stage #1 LogisticRegression: 10 -> 20" in str(err.value)
    assert "com.acme:churn:1.3" in str(err.value) and "1.2.1" in str(err.value)
    assert not (local_repo.root / "com/acme/churn/1.2.2").exists()  # nothing was claimed
    with pytest.raises(ModelChanged, match=r"deploy it as com\.acme:churn:2\.0"):
        deploy(make_model(), "com.acme:churn:1.2", repository=local_repo, card=card(extra_stage=True))
    assert (
        str(deploy(make_model(), "com.acme:churn:1.3", repository=local_repo, card=card(20))) == "com.acme:churn:1.3.0"
    )
    forced = deploy(make_model(), "com.acme:churn:1.2", repository=local_repo, card=card(20), allow_change=True)
    assert str(forced) == "com.acme:churn:1.2.2"


def test_features_are_the_columns_read_and_not_produced_inside() -> None:
    def described(assembled: list[str]) -> ModelCard:
        stages = [
            {"class": "VectorAssembler", "params": {}, "input_cols": assembled, "output_cols": ["features"]},
            {
                "class": "LogisticRegressionModel",
                "params": {},
                "input_cols": ["features", "label"],
                "output_cols": ["prediction"],
            },
        ]
        return ModelCard.create("com.acme:churn:1.0", model={"stages": stages})

    assert features(described(["age", "income"])) == ("age", "income", "label")
    change = compare_models(described(["age", "income"]), described(["age"]))
    assert change.level == "major"
    assert change.differences == ("input features changed from ['age', 'income', 'label'] to ['age', 'label']",)


class _CardAfterClaim(LocalRepository):
    """Serves the previous card only once a build was claimed: a deploy that read it before claiming (one round
    trip more across a network) would wait here and fail."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.claimed = threading.Event()

    def claim(self, directory: str) -> bool:
        self.claimed.set()
        return super().claim(directory)

    def read(self, path: str) -> bytes:
        if path.endswith("-model.json") and not self.claimed.wait(10):
            raise RepositoryUnavailable(f"{path} was read before the claim")
        return super().read(path)


def test_with_an_empty_cache_the_series_check_reads_beside_the_claim_and_a_refusal_gives_the_build_back(
    local_repo: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    deploy(make_model(), "com.acme:churn:1.2", repository=local_repo, card=card(10))
    empty = dataclasses.replace(Settings.load(), cache_dir=tmp_path / "empty-cache")
    gated = _CardAfterClaim(local_repo.root)
    second = deploy(make_model(), "com.acme:churn:1.2", repository=gated, card=card(10), settings=empty)
    assert str(second) == "com.acme:churn:1.2.1"

    refusing = _CardAfterClaim(local_repo.root)
    emptier = dataclasses.replace(empty, cache_dir=tmp_path / "another-empty-cache")
    with pytest.raises(ModelChanged):
        deploy(make_model(), "com.acme:churn:1.2", repository=refusing, card=card(20), settings=emptier)
    assert refusing.claimed.is_set()  # 1.2.2 was claimed while the card was read, then given back:
    assert not (local_repo.root / "com/acme/churn/1.2.2").exists()
    assert check(local_repo, ["com.acme:churn"]).findings == ()  # nothing for fsck to report
    forced = deploy(make_model(), "com.acme:churn:1.2", repository=local_repo, card=card(20), allow_change=True)
    assert str(forced) == "com.acme:churn:1.2.2"  # and no build number was lost
