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
- ``RandomForestClassificationModel``, ``RandomForestRegressionModel``: onnxmltools' own conversion of each tree
  (its ``sparkml_tree_dataset_to_sklearn`` and attribute helpers), but the trees' node data read once, from one
  save of the whole forest, with pyarrow: onnxmltools saves every tree through Spark and reads it back with three
  more jobs (a 20-tree forest: 80 Spark jobs, ~6x its fit). In local mode only (the forest is saved to this
  machine's disk); on a cluster, onnxmltools' converter as it is.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import pyarrow.parquet as pq
from onnxmltools.convert.common._registration import get_converter
from onnxmltools.convert.common.data_types import FloatTensorType
from onnxmltools.convert.common.tree_ensemble import (
    add_tree_to_attribute_pairs,
    get_default_tree_classifier_attribute_pairs,
    get_default_tree_regressor_attribute_pairs,
)
from onnxmltools.convert.sparkml.operator_converters.tree_ensemble_common import sparkml_tree_dataset_to_sklearn
from onnxmltools.convert.sparkml.operator_converters.tree_helper import rewrite_ids_and_process
from pyspark.ml.feature import OneHotEncoderModel, StringIndexerModel

from registry.exceptions import NotPortable

__all__ = ["CONVERTERS", "SHAPES", "indexer_categories"]

_ONE_HOT = "pyspark.ml.feature.OneHotEncoderModel"
_INDEXER = "pyspark.ml.feature.StringIndexerModel"
_FOREST_CLASSIFIER = "pyspark.ml.classification.RandomForestClassificationModel"
_FOREST_REGRESSOR = "pyspark.ml.regression.RandomForestRegressionModel"
_log = logging.getLogger("onnxmltools")


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


class _TreeData:
    """One tree's node data as ``sparkml_tree_dataset_to_sklearn`` reads a Spark DataFrame of it (``toPandas``,
    ``count``), from the forest's parquet."""

    def __init__(self, frame: Any):
        self._frame = frame

    def toPandas(self) -> Any:  # the DataFrame method onnxmltools calls
        return self._frame

    def count(self) -> int:
        return len(self._frame)


def _forest_trees(model: Any) -> list[_TreeData]:
    """The node data of every tree of ``model``, in tree order: one save of the forest, its parquet read here."""
    path = os.path.join(tempfile.mkdtemp(prefix="forest-"), "model")  # in the conversion's scratch directory
    model.write().save(path)
    table = pq.read_table(os.path.join(path, "data"))
    frame = table.flatten().to_pandas()
    frame.columns = [c.removeprefix("nodeData.") for c in frame.columns]
    return [_TreeData(frame[frame["treeID"] == tree].reset_index(drop=True)) for tree in range(model.getNumTrees)]


def _local(operator: Any) -> bool:
    return str(operator.raw_params["SparkSession"].conf.get("spark.master", "")).startswith("local")


def _convert_forest(scope: Any, operator: Any, container: Any) -> None:
    model = operator.raw_operator
    classifier = operator.raw_operator.__class__.__name__ == "RandomForestClassificationModel"
    if not _local(operator):
        get_converter(_FOREST_CLASSIFIER if classifier else _FOREST_REGRESSOR)(scope, operator, container)
        return
    op_type = "TreeEnsembleClassifier" if classifier else "TreeEnsembleRegressor"

    def attributes() -> dict[str, Any]:
        found: dict[str, Any] = (
            get_default_tree_classifier_attribute_pairs()
            if classifier
            else get_default_tree_regressor_attribute_pairs()
        )
        found["name"] = scope.get_unique_operator_name(op_type)
        if classifier:
            found["classlabels_int64s"] = list(range(model.numClasses))
        else:
            found["n_targets"] = 1
        return found

    main = attributes()
    weight = 1.0 / model.getNumTrees  # a forest averages its trees
    for tree_id, data in enumerate(_forest_trees(model)):
        tree = sparkml_tree_dataset_to_sklearn(data, is_classifier=classifier)
        pairs = attributes()
        add_tree_to_attribute_pairs(pairs, classifier, tree, tree_id, weight, 0, classifier)
        for key, value in rewrite_ids_and_process(pairs, _log).items():
            if isinstance(value, list) and key != "classlabels_int64s":
                main[key].extend(value)
    outputs = [o.full_name for o in operator.outputs[:2]] if classifier else operator.output_full_names[0]
    container.add_node(op_type, operator.input_full_names, outputs, op_domain="ai.onnx.ml", **main)


CONVERTERS = {
    _ONE_HOT: _convert_one_hot,
    _INDEXER: _convert_indexer,
    _FOREST_CLASSIFIER: _convert_forest,
    _FOREST_REGRESSOR: _convert_forest,
}
SHAPES = {_ONE_HOT: _shape_one_hot, _INDEXER: _shape_indexer}
