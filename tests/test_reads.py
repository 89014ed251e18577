"""registry.reads.model_reads: the columns a described pipeline reads (issue 21)."""

from __future__ import annotations

import pytest

from registry.reads import StatementColumns, model_reads, statement_columns
from registry.watermark import Watermark

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


def test_a_statement_not_analysed_by_spark_is_parsed() -> None:
    model = {
        "stages": [
            _stage(SQL_TRANSFORMER_CLASS, {"statement": "SELECT *, a * b AS ab FROM __THIS__"}, [], []),
            _stage("x.VectorAssembler", {"inputCols": ["ab", "c"], "outputCol": "f"}, ["ab", "c"], ["f"]),
        ]
    }
    assert model_reads(model) == ("a", "b", "c")
    assert model_reads(None) == ()


def test_a_statement_the_parser_cannot_decide_keeps_its_output_an_input() -> None:
    lateral = "SELECT *, a * 2 AS b, b + 1 AS ab FROM __THIS__"  # is b the input's or the alias? only Spark knows
    model = {
        "stages": [
            _stage(SQL_TRANSFORMER_CLASS, {"statement": lateral}, [], []),
            _stage("x.VectorAssembler", {"inputCols": ["ab", "c"], "outputCol": "f"}, ["ab", "c"], ["f"]),
        ]
    }
    assert model_reads(model) == ("ab", "c")


@pytest.mark.parametrize(
    ("statement", "reads", "writes"),
    [
        (Watermark("pipeline", "com.acme:churn:1.0.3").statement, (), ("pipeline",)),
        ("SELECT *, x * 2 AS x2 FROM __THIS__", ("x",), ("x2",)),
        ("SELECT *, a*b AS c FROM __THIS__", ("a", "b"), ("c",)),
        ("SELECT a, b, a * b AS c FROM __THIS__ WHERE d > 0 AND e IS NOT NULL", ("a", "b", "d", "e"), ("c",)),
        ("select *, upper(`s`) as s, coalesce(t.u, 0) v from __this__ t", ("s", "u"), ("s", "v")),
        ("SELECT * FROM (SELECT *, x + 1 AS x1 FROM __THIS__) WHERE x1 > y", ("x", "y"), ("x1",)),
    ],
)
def test_statement_columns(statement: str, reads: tuple[str, ...], writes: tuple[str, ...]) -> None:
    assert statement_columns(statement) == StatementColumns(reads, writes)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT *, a * 2 AS b, b + 1 AS c FROM __THIS__",  # a lateral alias, or an input column b
        "SELECT a + 1 FROM __THIS__",  # a column Spark names itself
        "SELECT * FROM __THIS__ t JOIN other o ON t.a = o.a",
        "SELECT * FROM other",
        "SELECT * FROM __THIS__ WHERE a IN (SELECT a FROM other)",
        "SELECT *, transform(xs, x -> x + 1) AS ys FROM __THIS__",
        "WITH w AS (SELECT * FROM __THIS__) SELECT * FROM w",
        "SELECT * FROM __THIS__ UNION ALL SELECT * FROM __THIS__",
        "SELECT FROM WHERE",
    ],
)
def test_statement_columns_where_the_parser_cannot_decide(statement: str) -> None:
    assert statement_columns(statement) is None
