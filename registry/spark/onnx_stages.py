"""Converters for stages whose Spark defaults onnxmltools does not cover, given to onnxmltools through its own
per-conversion registration (``custom_conversion_functions`` and ``custom_shape_calculators`` of
``convert_sparkml``): no fork, no copy of the library, nothing changed for its other users.

- ``OneHotEncoderModel``: every combination of ``dropLast`` and ``handleInvalid``, Spark's default
  (``dropLast=True, handleInvalid='error'``) included. Spark's encoding of category ``i`` of ``n`` is a vector
  of width ``n - 1`` (``dropLast``) or ``n``, plus one under ``keep``; the last category (``dropLast``) and an
  invalid one under ``keep, dropLast`` are all zeros. ONNX's ``OneHotEncoder`` gives all zeros for a value
  outside its categories (``zeros=1``), so the width decides the categories listed.
- ``StringIndexerModel``: ``LabelEncoder`` from the labels in Spark's order, to a float index (a double in Spark,
  so that it feeds an encoder or an assembler alike); an unseen string (or a null) gets index ``n`` under
  ``handleInvalid='keep'`` as in Spark; under ``'error'`` the runner refuses it before scoring
  (:mod:`registry.portable.run`: the labels go into the twin's metadata); ``'skip'`` drops rows, which a twin
  cannot do, so it is not converted.
"""

from __future__ import annotations

from typing import Any

from onnxmltools.convert.common.data_types import FloatTensorType
from pyspark.ml.feature import OneHotEncoderModel, StringIndexerModel

from registry.exceptions import NotPortable

__all__ = ["CONVERTERS", "SHAPES", "indexer_categories"]

_ONE_HOT = "pyspark.ml.feature.OneHotEncoderModel"
_INDEXER = "pyspark.ml.feature.StringIndexerModel"


def _one_hot_widths(model: OneHotEncoderModel) -> list[int]:
    """The width of each output vector, as Spark computes it."""
    extra = (1 if model.getHandleInvalid() == "keep" else 0) - (1 if model.getDropLast() else 0)
    return [int(size) + extra for size in model.categorySizes]


def _convert_one_hot(scope: Any, operator: Any, container: Any) -> None:
    widths = _one_hot_widths(operator.raw_operator)
    rows = operator.inputs[0].type.shape[0] or -1
    for i, width in enumerate(widths):
        encoded = scope.get_unique_variable_name(f"one_hot_{i}")
        container.add_node(
            "OneHotEncoder",
            [operator.inputs[i].full_name],
            [encoded],
            op_domain="ai.onnx.ml",
            op_version=1,
            name=scope.get_unique_operator_name("OneHotEncoder"),
            cats_int64s=list(range(width)),
            zeros=1,
        )
        shape = scope.get_unique_variable_name(f"one_hot_shape_{i}")
        container.add_initializer(shape, 7, [2], [rows, width])  # 7: TensorProto.INT64
        container.add_node("Reshape", [encoded, shape], [operator.outputs[i].full_name], op_version=13)


def _shape_one_hot(operator: Any) -> None:
    rows = operator.inputs[0].type.shape[0]
    for output, width in zip(operator.outputs, _one_hot_widths(operator.raw_operator), strict=True):
        output.type = FloatTensorType([rows, width])


def _labels(model: StringIndexerModel) -> list[list[str]]:
    return [list(labels) for labels in model.labelsArray]


def _convert_indexer(scope: Any, operator: Any, container: Any) -> None:
    model: StringIndexerModel = operator.raw_operator
    mode = model.getHandleInvalid()
    if mode == "skip":
        raise NotPortable("handleInvalid='skip' drops rows, which a twin cannot do")
    for i, labels in enumerate(_labels(model)):
        container.add_node(
            "LabelEncoder",
            [operator.inputs[i].full_name],
            [operator.outputs[i].full_name],
            op_domain="ai.onnx.ml",
            op_version=2,
            name=scope.get_unique_operator_name("StringIndexer"),
            keys_strings=labels,
            values_floats=[float(i) for i in range(len(labels))],
            default_float=float(len(labels)) if mode == "keep" else -1.0,
        )


def _shape_indexer(operator: Any) -> None:
    for source, output in zip(operator.inputs, operator.outputs, strict=True):
        output.type = FloatTensorType(list(source.type.shape))  # an index is a double in Spark: it feeds anything


def indexer_categories(model: StringIndexerModel, inputs: list[str]) -> dict[str, dict[str, Any]]:
    """For each input column of ``model``: its labels and ``handleInvalid`` (the runner's check)."""
    mode = model.getHandleInvalid()
    return {
        column: {"labels": labels, "handle_invalid": mode}
        for column, labels in zip(inputs, _labels(model), strict=True)
    }


CONVERTERS = {_ONE_HOT: _convert_one_hot, _INDEXER: _convert_indexer}
SHAPES = {_ONE_HOT: _shape_one_hot, _INDEXER: _shape_indexer}
