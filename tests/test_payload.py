"""The JSON shapes of POST /predict and the signature a card gives, without Spark."""

from __future__ import annotations

import json
from typing import Any

import pytest

from registry.exceptions import InvalidModel
from registry.payload import BadRequest, InputColumn, Signature, model_inputs, parse_records, predictors

# As registry.spark.card describes an assembler + logistic regression + watermark pipeline.
MODEL: dict[str, Any] = {
    "class": "org.apache.spark.ml.PipelineModel",
    "stages": [
        {
            "class": "org.apache.spark.ml.feature.VectorAssembler",
            "params": {"inputCols": ["x", "y", "n"], "outputCol": "features"},
            "input_cols": ["x", "y", "n"],
            "output_cols": ["features"],
        },
        {
            "class": "org.apache.spark.ml.classification.LogisticRegressionModel",
            "params": {
                "featuresCol": "features",
                "labelCol": "label",
                "predictionCol": "prediction",
                "probabilityCol": "probability",
            },
            "input_cols": ["features", "label"],
            "output_cols": ["prediction", "probability", "rawPrediction"],
        },
        {
            "class": "org.apache.spark.ml.feature.SQLTransformer",
            "params": {"statement": "..."},
            "output_cols": ["pipeline"],
        },
    ],
}
SCHEMA = [
    {"name": "id", "type": "bigint", "nullable": False},
    {"name": "x", "type": "double", "nullable": False},
    {"name": "y", "type": "double", "nullable": True},
    {"name": "n", "type": "int", "nullable": False},
    {"name": "label", "type": "double", "nullable": False},
]
SIGNATURE = Signature.from_card(MODEL, SCHEMA)


def parse(body: Any, max_records: int = 100) -> list[dict[str, Any]]:
    return parse_records(json.dumps(body).encode(), SIGNATURE, max_records=max_records)


def test_inputs_are_read_by_a_stage_and_made_by_none_label_excluded() -> None:
    assert model_inputs(MODEL) == ["x", "y", "n"]
    assert predictors(MODEL) == ("prediction", "probability")
    assert SIGNATURE.inputs == (
        InputColumn("x", "double", nullable=False),
        InputColumn("y", "double", nullable=True),
        InputColumn("n", "int", nullable=False),
    )


def test_nested_pipelines_are_walked_in_order() -> None:
    nested = {"stages": [{"stages": MODEL["stages"][:1]}, *MODEL["stages"][1:]]}
    assert model_inputs(nested) == ["x", "y", "n"]


def test_without_an_input_schema_every_input_is_a_double() -> None:
    signature = Signature.from_card(MODEL, None)
    assert [c.type for c in signature.inputs] == ["double"] * 3 and not signature.typed


def test_models_that_cannot_be_served_from_json() -> None:
    with pytest.raises(InvalidModel, match="predictionCol"):
        Signature.from_card({"stages": MODEL["stages"][:1]}, SCHEMA)
    vector = [{"name": c, "type": "vector", "nullable": True} for c in ("x", "y", "n")]
    with pytest.raises(InvalidModel, match=r"column 'x' of type vector"):
        Signature.from_card(MODEL, vector)
    with pytest.raises(InvalidModel, match=r"reads column 'n', which its card's input schema does not list"):
        Signature.from_card(MODEL, SCHEMA[:3])


@pytest.mark.parametrize(
    "body",
    [
        [{"x": 1, "y": 2.5, "n": 3, "other": "ignored"}],
        {"records": [{"x": 1, "y": 2.5, "n": 3}]},
        {"dataframe_records": [{"x": 1, "y": 2.5, "n": 3.0}]},
        {"instances": [{"x": 1.0, "y": 2.5, "n": 3}]},
        {"dataframe_split": {"index": [7], "columns": ["n", "y", "x"], "data": [[3, 2.5, 1]]}},
    ],
)
def test_shapes_accepted(body: Any) -> None:
    assert parse(body) == [{"x": 1.0, "y": 2.5, "n": 3}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'["\xff"]', "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (b'"text"', "list of records or an object, not str"),
        (b'{"rows": []}', "got keys \\['rows'\\]"),
        (b"[]", "No records"),
        (b'{"records": {"x": 1}}', "'records' must be a list"),
        (b"[1]", "Record 0 is not a JSON object"),
        (b'[{"x": 1, "y": 2, "n": 3}, {"x": 1, "n": 3}]', "Record 1 has no column 'y'; the model reads x, y, n"),
        (b'[{"x": "1", "y": 2, "n": 3}]', "Column 'x' of record 0 is \"1\", not a number \\(type double\\)"),
        (b'[{"x": true, "y": 2, "n": 3}]', "Column 'x' of record 0 is true, not a number"),
        (b'[{"x": 1, "y": 2, "n": 3.5}]', "Column 'n' of record 0 is 3.5, not an integer"),
        (b'[{"x": 1, "y": 2, "n": 4294967296}]', "out of the range of int"),
        (b'[{"x": null, "y": 2, "n": 3}]', "Column 'x' of record 0 is null; the model needs a value"),
        (b'{"dataframe_split": {"columns": ["x"], "data": [[1, 2]]}}', "Row 0 of dataframe_split must be a list of 1"),
        (b'{"dataframe_split": {"data": [[1]]}}', "needs 'columns'"),
    ],
)
def test_bad_requests_name_the_problem(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as caught:
        parse_records(body, SIGNATURE, max_records=100)
    assert caught.value.status == 400


def test_nullable_columns_take_null_and_too_many_records_is_413() -> None:
    assert parse([{"x": 1, "y": None, "n": 3}]) == [{"x": 1.0, "y": None, "n": 3}]
    with pytest.raises(BadRequest, match="3 records in one request; at most 2") as caught:
        parse([{"x": 1, "y": 2, "n": 3}] * 3, max_records=2)
    assert caught.value.status == 413


def test_other_types() -> None:
    signature = Signature.from_card(
        {"stages": [{"params": {"inputCols": ["s", "b", "a"], "predictionCol": "p"}}]},
        [
            {"name": "s", "type": "string"},
            {"name": "b", "type": "boolean"},
            {"name": "a", "type": "array<double>"},
        ],
    )
    body = json.dumps([{"s": "red", "b": False, "a": [1, 2.5]}]).encode()
    assert parse_records(body, signature, max_records=1) == [{"s": "red", "b": False, "a": [1.0, 2.5]}]
    with pytest.raises(BadRequest, match=r"Column 'a' of record 0\[1\] is \"2\", not a number"):
        parse_records(json.dumps([{"s": "", "b": True, "a": [1, "2"]}]).encode(), signature, max_records=1)
    with pytest.raises(BadRequest, match="Column 's' of record 0 is 3, not a string"):
        parse_records(json.dumps([{"s": 3, "b": True, "a": []}]).encode(), signature, max_records=1)
