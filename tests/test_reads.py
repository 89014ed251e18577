"""registry.reads.model_reads: the columns a described pipeline reads (issue 21)."""

from __future__ import annotations

from registry.reads import model_reads

SQL_TRANSFORMER_CLASS = "org.apache.spark.ml.feature.SQLTransformer"


def _stage(cls: str, params: dict[str, object], inputs: list[str], outputs: list[str]) -> dict[str, object]:
    return {"class": cls, "params": params, "input_cols": inputs, "output_cols": outputs}


def test_reads_skip_what_an_earlier_stage_produces_and_the_label() -> None:
    model = {
        "stages": [
            _stage(SQL_TRANSFORMER_CLASS, {"statement": "SELECT *, a * b AS ab FROM __THIS__"}, ["a", "b"], ["ab"]),
            {
                "class": "org.apache.spark.ml.PipelineModel",
                "stages": [
                    _stage("x.VectorAssembler", {"inputCols": ["ab", "c"], "outputCol": "f"}, ["ab", "c"], ["f"]),
                ],
            },
            _stage("x.LogisticRegressionModel", {"featuresCol": "f", "labelCol": "y"}, ["f", "y"], ["prediction"]),
        ]
    }
    assert model_reads(model) == ("a", "b", "c")


def test_a_statement_not_analysed_reads_nothing_known_and_its_output_is_an_input() -> None:
    model = {
        "stages": [
            _stage(SQL_TRANSFORMER_CLASS, {"statement": "SELECT *, a * b AS ab FROM __THIS__"}, [], []),
            _stage("x.VectorAssembler", {"inputCols": ["ab", "c"], "outputCol": "f"}, ["ab", "c"], ["f"]),
        ]
    }
    assert model_reads(model) == ("ab", "c")
    assert model_reads(None) == ()
