"""Run a portable twin: the ONNX file of a release, on onnxruntime, without a JVM.

The twin carries what it needs to behave as the Spark model does, in the ONNX file's own metadata (readable by any
ONNX runtime, in any language):

``registry.inputs``
    ``[{"name": "x", "type": "float"}, {"name": "plan", "type": "string"}]``: the columns the model reads, each
    fed as a ``[rows, 1]`` tensor (numbers as 32-bit floats, as the converters compute).
``registry.categories``
    ``{"plan": {"labels": ["basic", "pro"], "handle_invalid": "error"}}``: for each input a ``StringIndexer``
    reads, the categories it knows and what Spark does with another one. ONNX has no way to fail a row, so under
    ``"error"`` the runner refuses an unseen category before scoring, as Spark's transform does.
``registry.watermark``
    the name of the watermark column (:mod:`registry.spark.watermark`), which the runner adds with the
    coordinate of the release as its value (the conversion leaves the watermark stage out: it is a constant).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import onnxruntime

from registry.exceptions import InvalidInput, InvalidModel

__all__ = ["CATEGORIES_KEY", "INPUTS_KEY", "WATERMARK_KEY", "InputColumn", "Twin"]

INPUTS_KEY = "registry.inputs"
CATEGORIES_KEY = "registry.categories"
WATERMARK_KEY = "registry.watermark"
#: What a missing string becomes before it reaches the encoder: never a label (a NUL is not printable), so a
#: ``StringIndexer`` under ``handleInvalid='keep'`` gives it the unseen index, as Spark gives a null.
_NULL = "\x00null"


@dataclass(frozen=True)
class InputColumn:
    """One column the twin reads: its name and ``"float"`` or ``"string"``."""

    name: str
    type: Literal["float", "string"]


@dataclass(frozen=True)
class _Categories:
    labels: frozenset[str]
    handle_invalid: str


class Twin:
    """A loaded twin: ``Twin(onnx_bytes, coordinate="com.acme:churn:1.2.7").predict([{"x": 0.3, ...}])``.

    One onnxruntime session (``threads`` intra-op threads; 1 suits a server, which runs requests in parallel);
    ``predict`` may be called from several threads at once.
    """

    def __init__(self, data: bytes, *, coordinate: str | None = None, name: str = "the twin", threads: int = 1):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types, all of them "not a usable model"
            raise InvalidModel(f"{name} is not a model onnxruntime can load: {exc}") from exc
        meta = self._session.get_modelmeta().custom_metadata_map
        self.coordinate = coordinate
        graph_inputs = {i.name: i.type for i in self._session.get_inputs()}
        try:
            declared = json.loads(meta.get(INPUTS_KEY, "[]"))
            categories = json.loads(meta.get(CATEGORIES_KEY, "{}"))
            self.inputs = tuple(
                InputColumn(str(c["name"]), "string" if c["type"] == "string" else "float") for c in declared
            )
            self._categories = {
                str(column): _Categories(frozenset(map(str, spec["labels"])), str(spec["handle_invalid"]))
                for column, spec in categories.items()
            }
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidModel(
                f"{name} has metadata this runner cannot read ({INPUTS_KEY}, {CATEGORIES_KEY})."
            ) from exc
        if not self.inputs:  # an ONNX file from elsewhere: read its graph
            self.inputs = tuple(
                InputColumn(n, "string" if t == "tensor(string)" else "float") for n, t in graph_inputs.items()
            )
        self.outputs = tuple(o.name for o in self._session.get_outputs())
        self.watermark_col: str | None = meta.get(WATERMARK_KEY) or None

    def run(self, columns: Mapping[str, Sequence[Any] | np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
        """Score columns (one sequence per input, all the same length): the twin's outputs as arrays."""
        feeds: dict[str, np.ndarray[Any, Any]] = {}
        rows: int | None = None
        for column in self.inputs:
            if column.name not in columns:
                raise InvalidInput(f"The input has no column {column.name!r}, which the model reads.")
            feeds[column.name] = self._tensor(column, columns[column.name])
            if rows is not None and len(feeds[column.name]) != rows:
                raise InvalidInput(f"Column {column.name!r} has {len(feeds[column.name])} values, not {rows}.")
            rows = len(feeds[column.name])
        if rows == 0:
            return {name: np.empty((0,)) for name in self.outputs}
        names = list(self.outputs)
        return dict(zip(names, self._session.run(names, feeds), strict=True))

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Score records (dicts of column to value): one dict per record with the model's outputs (``prediction``
        as a number, ``probability`` as a list) and the watermark column, whose value is the coordinate."""
        for index, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise InvalidInput(f"Record {index} is a {type(record).__name__}, not a mapping of column to value.")
        columns = {c.name: [r.get(c.name) for r in records] for c in self.inputs if all(c.name in r for r in records)}
        return self.rows(self.run(columns), len(records))

    def rows(self, outputs: Mapping[str, np.ndarray[Any, Any]], count: int) -> list[dict[str, Any]]:
        """The outputs of :meth:`run` as one dict per row."""
        as_lists = {name: _per_row(values).tolist() for name, values in outputs.items()}
        result: list[dict[str, Any]] = []
        for i in range(count):
            row: dict[str, Any] = {}
            for name, values in as_lists.items():
                value = values[i]
                row[name] = [float(v) for v in value] if isinstance(value, list) else float(value)
            if self.watermark_col is not None:
                row[self.watermark_col] = self.coordinate
            result.append(row)
        return result

    def _tensor(self, column: InputColumn, values: Sequence[Any] | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if column.type == "string":
            strings = [_NULL if v is None else v for v in values]
            for value in strings:
                if not isinstance(value, str):
                    raise InvalidInput(f"Column {column.name!r} takes strings, not {value!r}.")
            self._check_categories(column.name, strings)
            return np.array(strings, dtype=object).reshape(-1, 1)
        if not (isinstance(values, np.ndarray) and values.dtype.kind in "fiu"):
            for value in values:
                if not _is_number(value):
                    what = "no value" if value is None else repr(value)
                    raise InvalidInput(f"Column {column.name!r} takes numbers, not {what}.")
        return np.asarray(values, dtype=np.float32).reshape(-1, 1)

    def _check_categories(self, name: str, values: Sequence[str]) -> None:
        known = self._categories.get(name)
        if known is None or known.handle_invalid != "error":
            return
        for value in values:
            if value not in known.labels:
                shown = "null" if value == _NULL else repr(value)
                raise InvalidInput(
                    f"Column {name!r} has the value {shown}, a category the model did not see in training (its "
                    "StringIndexer has handleInvalid='error', as Spark's transform would refuse it too)."
                )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _per_row(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """One value per row where the converter gives a column of width one (a regressor's prediction)."""
    return values.reshape(-1) if values.ndim == 2 and values.shape[1] == 1 else values
