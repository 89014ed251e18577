"""Champion and challenger side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from registry.exceptions import InvalidInput
from registry.repository.local import LocalRepository
from registry.spark import deploy, resolve, side_by_side

pytestmark = pytest.mark.spark


def test_two_builds_side_by_side(
    fitted: PipelineModel, train: DataFrame, repo: LocalRepository, tmp_path: Path
) -> None:
    champion = deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    challenger = deploy(fitted, "com.acme:churn:1.0", repository=repo, code=None)
    loaded = resolve(str(challenger), repository=repo, cache_dir=tmp_path / "cache")

    both = side_by_side(train, str(champion), loaded, repository=repo)

    assert both.columns[:4] == train.columns
    assert both.columns.count("x") == 1
    added = ["features", "rawPrediction", "probability", "prediction", "pipeline"]
    assert both.columns[4:] == [f"champion_{c}" for c in added] + [f"challenger_{c}" for c in added]
    assert both.count() == train.count()
    marks = both.select("champion_pipeline", "challenger_pipeline").distinct().collect()
    assert [tuple(row) for row in marks] == [(str(champion), str(challenger))]
    disagreements = both.filter("champion_prediction != challenger_prediction").count()
    assert disagreements == 0  # the same fitted model, deployed twice


def test_input_that_already_has_the_watermark_column_is_refused_by_name(
    fitted: PipelineModel, train: DataFrame
) -> None:
    scored_before = fitted.transform(train).select("x", "y", "pipeline")  # an earlier scoring's output
    with pytest.raises(InvalidInput, match=r"already has a column 'pipeline', the watermark column") as refused:
        side_by_side(scored_before, fitted, fitted)
    assert "AMBIGUOUS_REFERENCE" not in str(refused.value)
