"""``registry deploy DIR`` of a saved Spark pipeline, without Spark: the jar's watermark says the new coordinate,
and the card is the one a Python deploy records, so the versioning guard compares like with like."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cardhelpers import run_cli
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from registry.coordinates import Coordinate
from registry.exceptions import ModelChanged
from registry.modelcard import ModelCard
from registry.repository.local import LocalRepository
from registry.spark import deploy, resolve

pytestmark = pytest.mark.spark

#: What differs between two deploys of one model by design: when, by whom, with which runtime, and the SHA-256 of
#: each saved file (Spark names its part files anew at every save).
_DEPLOY_FIELDS = ("created", "deployed_by", "tools", "files")


def _cli(*args: str) -> str:
    code, out, err = run_cli(*args)
    assert code == 0, err
    return out.strip().splitlines()[-1]


def _card(repo: LocalRepository, coordinate: str) -> ModelCard:
    return ModelCard.from_json(repo.read(Coordinate.parse(coordinate).path("json", "model")))


def _comparable(card: ModelCard) -> dict[str, Any]:
    return {k: v for k, v in card.to_dict().items() if k not in _DEPLOY_FIELDS}


def test_a_resolved_model_deployed_from_the_command_line_says_its_new_coordinate(
    fitted: PipelineModel, train: DataFrame, repo: LocalRepository, tmp_path: Path
) -> None:
    deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    here = Path(_cli("resolve", "com.acme:churn:1.0", "-r", str(repo.root), "--to", str(tmp_path / "here")))
    released = _cli("deploy", str(here), "com.acme:churn:1.0", "-r", str(repo.root))
    assert released == "com.acme:churn:1.0.2"

    loaded = resolve(released, repository=repo, cache_dir=tmp_path / "cache")
    assert {r[0] for r in loaded.transform(train).select("pipeline").distinct().collect()} == {released}
    # the directory deployed is left as it was: it still says the build it was resolved from
    assert {r[0] for r in PipelineModel.load(str(here)).transform(train).select("pipeline").distinct().collect()} == {
        "com.acme:churn:1.0.1"
    }


def test_the_card_of_a_command_line_deploy_is_the_python_deploys(
    fitted: PipelineModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no git checkout here: neither deploy records code
    python_repo, cli_repo = LocalRepository(tmp_path / "python"), LocalRepository(tmp_path / "cli")
    by_python = deploy(fitted, "com.acme:churn:1.0", repository=python_repo, code=None, metrics={"auc": 0.9})
    fitted.write().save(str(tmp_path / "saved"))
    by_cli = _cli("deploy", str(tmp_path / "saved"), "com.acme:churn:1.0", "-r", str(cli_repo.root), "--metric",
                  "auc=0.9")  # fmt: skip
    assert by_cli == str(by_python)
    python_card, cli_card = _card(python_repo, by_cli), _card(cli_repo, by_cli)
    assert cli_card.stages and _comparable(cli_card) == _comparable(python_card)
    assert cli_card.tools["spark"] == python_card.tools["spark"]
    assert cli_card.files and python_card.files and len(cli_card.files) == len(python_card.files)


def test_a_param_changed_after_a_command_line_deploy_is_a_minor_change(
    fitted: PipelineModel, repo: LocalRepository, tmp_path: Path
) -> None:
    fitted.write().save(str(tmp_path / "saved"))
    assert _cli("deploy", str(tmp_path / "saved"), "com.acme:churn:1.0", "-r", str(repo.root)) == "com.acme:churn:1.0.0"
    changed = fitted.copy({fitted.stages[1].regParam: 0.5})
    with pytest.raises(ModelChanged) as refused:
        deploy(changed, "com.acme:churn:1.0", repository=repo, code=None)
    message = str(refused.value)
    assert "configuration differs" in message and "regParam" in message
    assert "deploy it as com.acme:churn:1.1" in message
    assert "2.0" not in message and "label" not in message
