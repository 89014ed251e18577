"""The columns a fitted pipeline reads from its input: one answer for the training profile, the server's type
checks, the ONNX twin's input names and the compatibility of two builds.

A column counts when a stage reads it at transform time (``inputCol``, ``inputCols``, ``featuresCol``, or the
``input_cols`` recorded for the stage) and no earlier stage writes it (the ``output_cols`` recorded for it).
``labelCol`` and ``weightCol`` are read by an estimator at fit time only, never by the fitted model.

A ``SQLTransformer`` names its outputs in its statement, which only Spark can analyse: a deploy with
``training_data`` records the columns it reads and writes (:func:`registry.spark.card.describe_model`), so a
column it derives is not taken for an input, and one only its statement reads is. Without them (no training
data, or a saved model read without Spark), a column it derives and a later stage reads counts as an input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FIT_TIME_PARAMS", "READ_PARAMS", "model_reads", "stage_entries"]

#: The params naming the columns a fitted stage reads when it transforms.
READ_PARAMS = ("inputCol", "inputCols", "featuresCol")
#: The params naming columns only an estimator reads, at fit time.
FIT_TIME_PARAMS = ("labelCol", "weightCol")


def _names(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str) and v]


def stage_entries(model: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The stage entries of a described model, depth first (nested pipelines flattened), malformed ones skipped."""
    found: list[Mapping[str, Any]] = []

    def walk(entries: object) -> None:
        if not isinstance(entries, list):
            return
        for entry in entries:
            if isinstance(entry, Mapping):
                found.append(entry)
                walk(entry.get("stages"))

    walk(model.get("stages") if isinstance(model, Mapping) else None)
    return found


def model_reads(model: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The columns the described model (a card's ``model`` field) reads from its input, in the order first read:
    read by a stage, produced by no earlier one."""
    produced: set[str] = set()
    read: dict[str, None] = {}
    for stage in stage_entries(model):
        params = stage.get("params")
        params = params if isinstance(params, Mapping) else {}
        by_params = [c for name in READ_PARAMS for c in _names(params.get(name))]
        # Cards written by earlier releases listed labelCol among a stage's input_cols: left out here, on reading.
        fit_only = {c for name in FIT_TIME_PARAMS for c in _names(params.get(name))} - set(by_params)
        names = [*by_params, *(c for c in _names(stage.get("input_cols")) if c not in fit_only)]
        read.update((c, None) for c in names if c not in produced)
        produced.update(_names(stage.get("output_cols")))
    return tuple(read)
