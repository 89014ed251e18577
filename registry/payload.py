"""What a served model reads and answers, and the JSON of ``POST /predict``, checked without Spark.

A model's :class:`Signature` comes from its card: the input columns (read by a stage, produced by no earlier
stage; a stage's ``labelCol`` is not needed to score), their types from the card's ``input_schema`` (the training
data's schema), and the prediction and probability columns of its last predictor.

The request bodies accepted, as MLflow's scoring server accepts them (so MLflow clients work unchanged)::

    [{"x": 1.0, "y": 2.0}, ...]                                       a list of records
    {"records": [...]}   {"dataframe_records": [...]}   {"instances": [...]}
    {"dataframe_split": {"columns": ["x", "y"], "data": [[1.0, 2.0], ...]}}     ("index" is ignored)

Each record must have every input column with a value of its type (a JSON number for ``double``, an integral
number for ``bigint``, a string, ``true``/``false``, a list for an ``array<...>``; ``null`` where the training
data's column was nullable); other keys are ignored. Every problem raises :class:`BadRequest` naming the record and
the column, so the server answers 4xx and the batch it would have joined never sees it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registry.exceptions import InvalidInput, InvalidModel
from registry.reads import model_reads, stage_entries

__all__ = [
    "BadRequest",
    "InputColumn",
    "Signature",
    "model_inputs",
    "parse_records",
    "predictors",
]

_INTEGERS = {"tinyint": 7, "smallint": 15, "int": 31, "bigint": 63}
_FLOATS = {"double", "float"}
_DECIMAL = re.compile(r"decimal\(\d+,\d+\)")
_ARRAY = re.compile(r"array<(.+)>")
_RECORD_KEYS = ("dataframe_records", "records", "instances")


class BadRequest(InvalidInput):
    """A request body the model cannot score; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InputColumn:
    """A column the model reads: its name, Spark type (``double``, ``bigint``, ``string``, ...) and nullability."""

    name: str
    type: str
    nullable: bool = True


def _supported(data_type: str) -> bool:
    array = _ARRAY.fullmatch(data_type)
    if array:
        return _supported(array.group(1))
    return (
        data_type in _FLOATS
        or data_type in _INTEGERS
        or data_type in {"string", "boolean", "date", "timestamp"}
        or bool(_DECIMAL.fullmatch(data_type))
    )


def model_inputs(model: Mapping[str, Any]) -> list[str]:
    """The columns a described model (the card's ``model`` field) reads to score, in order
    (:func:`registry.reads.model_reads`)."""
    return list(model_reads(model))


def predictors(model: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(prediction column, probability column)`` of the last stage that predicts; ``None`` where absent."""
    for stage in reversed(stage_entries(model)):
        params = stage.get("params")
        if not isinstance(params, Mapping):
            continue
        prediction = params.get("predictionCol")
        if isinstance(prediction, str) and prediction:
            probability = params.get("probabilityCol")
            return prediction, probability if isinstance(probability, str) and probability else None
    return None, None


@dataclass(frozen=True)
class Signature:
    """What a served model reads (:class:`InputColumn` in order) and the columns its answer is taken from."""

    inputs: tuple[InputColumn, ...]
    prediction: str
    probability: str | None = None
    typed: bool = True  # False: the card had no input schema, and every input is read as a double

    @classmethod
    def from_card(cls, model: Mapping[str, Any], input_schema: Sequence[Mapping[str, Any]] | None) -> Signature:
        """The signature of a model described by a card's ``model`` and ``input_schema`` fields.

        :raises InvalidModel: the model has no prediction column, or reads a column JSON cannot carry (a vector).
        """
        prediction, probability = predictors(model)
        if prediction is None:
            raise InvalidModel("The model has no stage with a predictionCol, so there is no prediction to serve.")
        types = {str(c.get("name")): c for c in input_schema or [] if isinstance(c, Mapping)}
        columns: list[InputColumn] = []
        for name in model_inputs(model):
            if input_schema is None:
                columns.append(InputColumn(name, "double", nullable=False))
                continue
            field = types.get(name)
            if field is None:
                raise InvalidModel(
                    f"The model reads column {name!r}, which its card's input schema does not list "
                    f"({', '.join(types) or 'empty'}); redeploy it with training_data= the DataFrame it was fitted on."
                )
            data_type = str(field.get("type"))
            if not _supported(data_type):
                raise InvalidModel(
                    f"The model reads column {name!r} of type {data_type}, which JSON records cannot carry; serve "
                    "a pipeline whose stages build it from plain columns (numbers, strings, booleans, arrays)."
                )
            columns.append(InputColumn(name, data_type, nullable=field.get("nullable") is not False))
        return cls(tuple(columns), prediction, probability, typed=input_schema is not None)

    @property
    def names(self) -> tuple[str, ...]:
        """The input column names, in order."""
        return tuple(c.name for c in self.inputs)


def _check(value: Any, data_type: str, where: str) -> Any:
    """``value`` as the JSON value of ``data_type``; :class:`BadRequest` naming ``where`` otherwise."""
    if data_type in _FLOATS or _DECIMAL.fullmatch(data_type):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) if data_type in _FLOATS else value
        expected = "a number"
    elif data_type in _INTEGERS:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            bits = _INTEGERS[data_type]
            if -(1 << bits) <= value < (1 << bits):
                return value
            raise BadRequest(f"{where} is {value}, out of the range of {data_type}.")
        expected = "an integer"
    elif data_type == "boolean":
        if isinstance(value, bool):
            return value
        expected = "true or false"
    elif data_type in {"string", "date", "timestamp"}:
        if isinstance(value, str):
            return value
        expected = "a string"
    else:
        array = _ARRAY.fullmatch(data_type)
        if array and isinstance(value, list):
            return [_check(v, array.group(1), f"{where}[{i}]") for i, v in enumerate(value)]
        expected = "a list"
    shown = json.dumps(value, allow_nan=True)
    raise BadRequest(
        f"{where} is {shown if len(shown) <= 40 else shown[:37] + '...'}, not {expected} (type {data_type})."
    )


def _row(record: object, index: int, signature: Signature) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise BadRequest(f"Record {index} is not a JSON object of column values: {type(record).__name__}.")
    row: dict[str, Any] = {}
    for column in signature.inputs:
        if column.name not in record:
            raise BadRequest(
                f"Record {index} has no column {column.name!r}; the model reads {', '.join(signature.names)}."
            )
        value = record[column.name]
        where = f"Column {column.name!r} of record {index}"
        if value is None:
            if not column.nullable:
                raise BadRequest(f"{where} is null; the model needs a value ({column.type}).")
            row[column.name] = None
        elif isinstance(value, float) and not math.isfinite(value) and column.type not in _FLOATS:
            raise BadRequest(f"{where} is {value}, not a finite number.")
        else:
            row[column.name] = _check(value, column.type, where)
    return row


def _records(data: object) -> list[object]:
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise BadRequest(f"Expected a JSON list of records or an object, not {type(data).__name__}.")
    for key in _RECORD_KEYS:
        if key in data:
            listed = data[key]
            if not isinstance(listed, list):
                raise BadRequest(f"{key!r} must be a list of records.")
            return list(listed)
    split = data.get("dataframe_split")
    if isinstance(split, dict):
        columns, rows = split.get("columns"), split.get("data")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise BadRequest("dataframe_split needs 'columns': a list of column names.")
        if not isinstance(rows, list):
            raise BadRequest("dataframe_split needs 'data': a list of rows, each a list of values.")
        records: list[object] = []
        for index, values in enumerate(rows):
            if not isinstance(values, list) or len(values) != len(columns):
                raise BadRequest(f"Row {index} of dataframe_split must be a list of {len(columns)} values.")
            records.append(dict(zip(columns, values, strict=True)))
        return records
    raise BadRequest(
        "Expected a list of records, or an object with 'records', 'dataframe_records', 'instances' or "
        f"'dataframe_split'; got keys {sorted(data)[:5]}."
    )


def parse_records(body: bytes, signature: Signature, *, max_records: int) -> list[dict[str, Any]]:
    """The records of a request body, each as ``{column: value}`` for the model's input columns only.

    :raises BadRequest: malformed JSON, an unknown shape, no records, more than ``max_records`` (status 413), or
        a missing, null or mistyped column (the message names the record and the column).
    """
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise BadRequest("The body is not UTF-8 text; send JSON.") from None
    except ValueError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise BadRequest("The body's JSON is nested too deeply.") from None
    records = _records(data)
    if not records:
        raise BadRequest("No records to score.")
    if len(records) > max_records:
        raise BadRequest(f"{len(records)} records in one request; at most {max_records} are accepted.", status=413)
    return [_row(record, index, signature) for index, record in enumerate(records)]
