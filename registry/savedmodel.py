"""A saved Spark model read without Spark: its stages and params, and its watermark stamped in a copy.

``model.write().save(dir)`` writes ``dir/metadata/part-00000`` (one JSON line: ``class``, ``uid``,
``sparkVersion``, ``paramMap`` -- the params set -- and ``defaultParamMap``) and, for a pipeline,
``dir/stages/N_UID/`` per stage in the same form; ``OneVsRestModel`` keeps its classifier under ``classifier/``.
This module reads those files into the card's ``model`` field, in the form :mod:`registry.spark.card` describes
(so ``registry deploy DIR`` records what :func:`registry.spark.deploy` records), and rewrites the watermark
stage's statement for a coordinate, as bytes to pack in place of the saved ones: the user's directory is never
modified. No pyspark here: the command line deploys without a JVM.

The watermark is a ``SQLTransformer`` whose statement is::

    SELECT * FROM (SELECT *, '<not deployed>' AS `pipeline` FROM __THIS__) WHERE `pipeline` IS NOT NULL

(see :mod:`registry.spark.watermark` for why the sub-query).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.coordinates import Coordinate
from registry.exceptions import InvalidInput
from registry.watermark import NOT_DEPLOYED, Watermark

__all__ = [
    "NOT_DEPLOYED",
    "PIPELINE_MODEL_CLASS",
    "SQL_TRANSFORMER_CLASS",
    "SavedModel",
    "Watermark",
    "output_columns",
    "read_saved_model",
    "stage_entry",
    "watermark_rewrites",
]

PIPELINE_MODEL_CLASS = "org.apache.spark.ml.PipelineModel"
# pyspark saves a pipeline holding a Python-only stage under its own class name, "language": "Python" beside
# the stage uids; it is the same PipelineModel once loaded.
_PIPELINE_CLASSES = (PIPELINE_MODEL_CLASS, "pyspark.ml.pipeline.PipelineModel")
_PIPELINE_ONLY_PARAMS = ("stageUids", "language")
SQL_TRANSFORMER_CLASS = "org.apache.spark.ml.feature.SQLTransformer"
# The columns a stage reads and writes, by param. labelCol and weightCol are not read by a fitted model: its
# estimator read them at fit time (a LogisticRegressionModel keeps the param, but transform never reads it).
_INPUT_PARAMS = ("inputCol", "inputCols", "featuresCol")
_OUTPUT_PARAMS = ("outputCol", "outputCols", "predictionCol", "probabilityCol", "rawPredictionCol")
# Hadoop's ChecksumFileSystem sidecar: b"crc\0", bytes per checksum, then one CRC-32 per chunk (big-endian).
_CRC_MAGIC = b"crc\x00"
_BYTES_PER_CRC = 512
# How the JVM writes non-finite doubles in a param (DoubleParam.jsonEncode), and how a card writes them.
_NON_FINITE = {"NaN": "NaN", "Inf": "Infinity", "-Inf": "-Infinity"}


# --- describing stages (shared with registry.spark.card) ----------------------------------------------------


def _columns(params: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    found: list[str] = []
    for name in names:
        value = params.get(name)
        for column in value if isinstance(value, list) else [value]:
            if isinstance(column, str) and column and column not in found:
                found.append(column)
    return found


def stage_entry(
    uid: str, class_name: str, params: dict[str, Any], defaults: list[str], stages: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """One stage's entry in the card's ``model`` field, from its params (JSON values, sorted by name), the names
    of those not set explicitly, and for a pipeline its stages' entries. The watermark's statement is recorded
    with the ``<not deployed>`` placeholder (the coordinate is the card's own) and its column as the output."""
    entry: dict[str, Any] = {
        "uid": uid,
        "class": class_name,
        "params": params,
        "defaults": defaults,
        "input_cols": _columns(params, _INPUT_PARAMS),
        "output_cols": _columns(params, _OUTPUT_PARAMS),
    }
    statement = params.get("statement")
    watermark = Watermark.parse(statement) if isinstance(statement, str) else None
    if watermark is not None:
        params["statement"] = Watermark(watermark.column, NOT_DEPLOYED).statement
        entry["output_cols"] = [watermark.column]
    if stages is not None:
        entry["stages"] = stages
    return entry


def output_columns(model: Mapping[str, Any]) -> list[str]:
    """The columns the stages of a described model declare as outputs, in order, nested pipelines included."""
    found: list[str] = []

    def walk(stages: Sequence[Mapping[str, Any]]) -> None:
        for stage in stages:
            for column in stage.get("output_cols", []):
                if column not in found:
                    found.append(column)
            walk(stage.get("stages", []))

    walk(model.get("stages", []))
    return found


# --- reading the saved files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedModel:
    """A saved Spark model: the card's ``model`` field, and the Spark version that saved it."""

    model: dict[str, Any]
    spark_version: str | None


def _metadata_file(directory: Path) -> Path | None:
    parts = sorted(p for p in (directory / "metadata").glob("part-*") if p.is_file())
    return parts[0] if len(parts) == 1 else None


def _metadata(directory: Path) -> dict[str, Any] | None:
    """The metadata JSON of a saved stage, or ``None`` when ``directory`` holds none."""
    part = _metadata_file(directory)
    if part is None:
        return None
    try:
        metadata = json.loads(part.read_bytes())
    except (ValueError, OSError):
        return None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("class"), str):
        return None
    return metadata


def _matrix_rows(value: Mapping[str, Any]) -> list[list[float]]:
    rows, cols = int(value["numRows"]), int(value["numCols"])
    values = [_number(v) for v in value["values"]]
    grid = [[0.0] * cols for _ in range(rows)]
    transposed = bool(value.get("isTransposed"))
    if value.get("type") == 1:  # dense, column-major unless transposed
        for index, number in enumerate(values):
            r, c = (index // cols, index % cols) if transposed else (index % rows, index // cols)
            grid[r][c] = number
        return grid
    pointers, indices = value["colPtrs"], value["rowIndices"]  # sparse (CSC, or CSR when transposed)
    for outer in range(len(pointers) - 1):
        for k in range(pointers[outer], pointers[outer + 1]):
            r, c = (outer, indices[k]) if transposed else (indices[k], outer)
            grid[r][c] = values[k]
    return grid


def _number(value: Any) -> Any:
    return _NON_FINITE.get(value, value) if isinstance(value, str) else value


def _param_value(value: Any) -> Any:
    """A param as the JVM wrote it, as the card's JSON (vectors and matrices as lists, non-finite numbers named)."""
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    if isinstance(value, list):
        return [_param_value(v) for v in value]
    if isinstance(value, dict):
        if value.get("class") == "matrix" and {"numRows", "numCols", "values"} <= value.keys():
            return _matrix_rows(value)
        if set(value) in ({"type", "values"}, {"type", "size", "indices", "values"}):
            if value["type"] == 1:
                return [_number(v) for v in value["values"]]
            dense: list[Any] = [0.0] * int(value["size"])
            for index, number in zip(value["indices"], value["values"], strict=False):
                dense[index] = _number(number)
            return dense
        return {str(k): _param_value(v) for k, v in value.items()}
    return value


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _describe(directory: Path, metadata: Mapping[str, Any]) -> dict[str, Any]:
    class_name = str(metadata["class"])
    set_params = _mapping(metadata.get("paramMap"))
    default_params = _mapping(metadata.get("defaultParamMap"))
    stages: list[dict[str, Any]] | None = None
    if class_name in _PIPELINE_CLASSES:
        class_name = PIPELINE_MODEL_CLASS
        set_params = {k: v for k, v in set_params.items() if k not in _PIPELINE_ONLY_PARAMS}
        stages = [_describe(path, found) for path, found in _stage_dirs(directory, metadata)]
    merged = {**default_params, **set_params}
    params = {name: _param_value(merged[name]) for name in sorted(merged)}
    classifier = _metadata(directory / "classifier")
    if classifier is not None and "classifier" not in params:  # OneVsRestModel keeps it beside its params
        params = dict(sorted({**params, "classifier": _describe(directory / "classifier", classifier)}.items()))
    defaults = [name for name in params if name in default_params and name not in set_params]
    return stage_entry(str(metadata.get("uid", "")), class_name, params, defaults, stages)


def _stage_dirs(directory: Path, metadata: Mapping[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    """The saved stages of a pipeline, in order: ``stages/N_UID`` for each uid of its ``stageUids``."""
    params = metadata.get("paramMap")
    uids = params.get("stageUids") if isinstance(params, dict) else None
    found = []
    for index, uid in enumerate(uids if isinstance(uids, list) else []):
        stage_dir = directory / "stages" / f"{index}_{uid}"
        stage = _metadata(stage_dir)
        if stage is None:
            raise InvalidInput(
                f"{directory} is a saved Spark pipeline without the metadata of its stage {index} ({uid}) under "
                f"{stage_dir}. Save the model again (model.write().save(...)) and deploy that directory."
            )
        found.append((stage_dir, stage))
    return found


def read_saved_model(directory: Path) -> SavedModel | None:
    """The description of the Spark pipeline saved in ``directory``, or ``None`` when it holds no saved
    ``PipelineModel`` (any other directory deploys as files, described by nothing)."""
    metadata = _metadata(directory)
    if metadata is None or metadata["class"] not in _PIPELINE_CLASSES:
        return None
    described = _describe(directory, metadata)
    model = {"class": PIPELINE_MODEL_CLASS, "uid": described["uid"], "stages": described["stages"]}
    version = metadata.get("sparkVersion")
    return SavedModel(model, version if isinstance(version, str) else None)


# --- stamping the watermark ---------------------------------------------------------------------------------


def _crc_sidecar(data: bytes) -> bytes:
    chunks = (data[i : i + _BYTES_PER_CRC] for i in range(0, len(data), _BYTES_PER_CRC))
    return _CRC_MAGIC + struct.pack(">i", _BYTES_PER_CRC) + b"".join(struct.pack(">I", zlib.crc32(c)) for c in chunks)


def _stamped_stage(directory: Path, value: str) -> dict[Path, bytes]:
    """The files of a saved watermark stage rewritten for ``value``; empty if ``directory`` is not one."""
    part = _metadata_file(directory)
    metadata = _metadata(directory)
    if part is None or metadata is None or metadata["class"] != SQL_TRANSFORMER_CLASS:
        return {}
    params = metadata.get("paramMap") or {}
    statement = params.get("statement") if isinstance(params, dict) else None
    watermark = Watermark.parse(statement) if isinstance(statement, str) else None
    if watermark is None:
        return {}
    params["statement"] = Watermark(watermark.column, value).statement
    data = json.dumps(metadata, separators=(",", ":")).encode("utf-8") + b"\n"
    rewritten = {part: data}
    # Hadoop's local file system verifies this sidecar on read and refuses a file that no longer matches it.
    crc = part.with_name(f".{part.name}.crc")
    if crc.exists():
        rewritten[crc] = _crc_sidecar(data)
    return rewritten


def watermark_rewrites(model_dir: Path, coordinate: Coordinate | str) -> dict[Path, bytes]:
    """Every watermark stage saved under ``model_dir`` (nested pipelines included) rewritten to say
    ``coordinate``: the new bytes of each file that changes (metadata and its ``.crc``), by path; empty when the
    directory holds no watermark. Nothing is written."""
    rewritten: dict[Path, bytes] = {}
    for metadata_dir in sorted(model_dir.rglob("metadata")):
        if metadata_dir.is_dir():
            rewritten.update(_stamped_stage(metadata_dir.parent, str(coordinate)))
    return rewritten
