"""Score a dataset on a release's twin, no JVM: ``registry score COORDINATE --input A --output B --engine onnx``.

The input (parquet, CSV with a header, JSON lines; a file or a directory of them) is read with pyarrow in batches
of ``batch_rows`` (memory bounded by one batch, whatever the input's size), each batch scored in one onnxruntime
call, and written as it comes, the way Spark writes a dataset: a directory of ``part-NNNNN`` files, then
``_SUCCESS``. The rows carry the input's columns, ``prediction``, ``probability`` (a list, where the model has
one) and the watermark column with the coordinate (``--columns`` chooses). Spark's own output adds the pipeline's
intermediate columns (``features``, ``rawPrediction``), which a twin does not compute.

Where an OpenLineage receiver is configured, the run is told as the Spark path tells it
(:func:`registry.events.score_run`): ``START`` once the twin is verified and the input checked, then ``COMPLETE``
with the rows written, or ``FAIL`` with the error.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_dataset
import pyarrow.parquet as pq

from registry import events
from registry.coordinates import Coordinate
from registry.exceptions import InvalidInput
from registry.portable.fetch import fetch_twin
from registry.portable.run import Twin
from registry.settings import Settings

__all__ = ["FORMATS", "TwinScored", "score_twin"]

FORMATS = ("parquet", "csv", "json")
_EXTENSIONS = {"parquet": "parquet", "csv": "csv", "json": "json", "jsonl": "json"}


@dataclass(frozen=True)
class TwinScored:
    """What :func:`score_twin` did: which model, how many rows, where, in which format."""

    coordinate: str
    rows: int
    output: str
    format: str


def _format(given: str | None, path: str, what: str) -> str:
    if given is not None:
        if given not in FORMATS:
            raise InvalidInput(f"The twin reads and writes {', '.join(FORMATS)}, not {given!r} (use --engine spark).")
        return given
    return _EXTENSIONS.get(Path(path).suffix.lstrip(".").lower(), "parquet")


def _columns(twin: Twin, batch: pa.RecordBatch) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for column in twin.inputs:
        values = batch.column(column.name)
        numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
        if column.type == "float" and numeric and values.null_count == 0:
            columns[column.name] = values.to_numpy(zero_copy_only=False)
        else:
            columns[column.name] = values.to_pylist()
    return columns


def _scored(twin: Twin, batch: pa.RecordBatch, keep: Sequence[str]) -> pa.Table:
    outputs = twin.run(_columns(twin, batch))
    table = pa.Table.from_batches([batch]).select([c for c in keep if c in batch.schema.names])
    for name, values in outputs.items():
        if name in keep:
            array = np.asarray(values, dtype=np.float64)
            column = pa.array(array.reshape(-1)) if array.ndim == 1 or array.shape[1] == 1 else pa.array(list(array))
            table = table.append_column(name, column)
    if twin.watermark_col is not None:
        table = table.append_column(twin.watermark_col, pa.array([twin.coordinate] * batch.num_rows, pa.string()))
    return table


def score_twin(
    spec: str | Coordinate,
    input_path: str,
    output_path: str,
    *,
    repository: str | None = None,
    settings: Settings | None = None,
    output_format: str | None = None,
    input_format: str | None = None,
    mode: str = "error",
    columns: Sequence[str] | None = None,
    batch_rows: int = 65_536,
) -> TwinScored:
    """Score ``input_path`` on the twin of the release ``spec`` selects, into the directory ``output_path``.

    :raises InvalidInput: the output exists (``mode="error"``), the input lacks a column the model reads (named), an
        unknown output column, a list column asked of CSV; before anything is written.
    :raises ArtifactNotFound: the release has no twin. :raises IntegrityError, SignatureError: it fails verification.
    """
    if mode not in ("error", "overwrite", "append"):
        raise InvalidInput(f"Unknown mode {mode!r}; use one of error, overwrite, append.")
    writes = _format(output_format, output_path, "output")
    reads = _format(input_format, input_path, "input")
    output = Path(output_path)
    if output.exists() and mode == "error":
        raise InvalidInput(
            f"The output {output_path!r} exists. Choose another --output, or pass --mode overwrite to replace it or "
            "--mode append to add to it."
        )
    fetched = fetch_twin(spec, repository=repository, settings=settings)
    twin = Twin(fetched.data, coordinate=str(fetched.coordinate), name=fetched.file_name, threads=0)
    try:
        data = pa_dataset.dataset(input_path, format=reads)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InvalidInput(f"Cannot read {input_path!r} as {reads}: {exc}") from exc
    names = data.schema.names
    missing = [c.name for c in twin.inputs if c.name not in names]
    if missing:
        raise InvalidInput(
            f"{fetched.coordinate} reads {', '.join(map(repr, missing))}, which {input_path!r} does not have "
            f"(it has {', '.join(names)})."
        )
    produced = [*names, *twin.outputs]
    keep = list(columns) if columns else produced
    unknown = [c for c in keep if c not in produced and c != twin.watermark_col]
    if unknown:
        raise InvalidInput(f"No output column {', '.join(map(repr, unknown))}; the twin gives {', '.join(produced)}.")
    if writes == "csv" and "probability" in keep and "probability" in twin.outputs:
        raise InvalidInput(
            "CSV cannot hold the column probability (a list); choose the columns with --columns (e.g. --columns "
            "prediction) or another --format."
        )
    if output.exists() and mode == "overwrite":
        shutil.rmtree(output) if output.is_dir() else output.unlink()
    output.mkdir(parents=True, exist_ok=True)
    (output / "_SUCCESS").unlink(missing_ok=True)
    lineage = events.score_run(fetched.repository, fetched.coordinate, [input_path], output_path)
    try:
        rows = _write(twin, data, names, keep, output, writes, batch_rows)
    except BaseException as exc:
        lineage.fail(exc)
        raise
    lineage.complete(rows)
    return TwinScored(str(fetched.coordinate), rows, output_path, writes)


def _write(
    twin: Twin, data: Any, names: list[str], keep: Sequence[str], output: Path, writes: str, batch_rows: int
) -> int:
    """Score ``data`` batch by batch into a new part file of ``output``, then ``_SUCCESS``; the rows written."""
    rows = 0
    run = uuid.uuid4().hex[:8]
    target = output / f"part-00000-{run}.{'jsonl' if writes == 'json' else writes}"
    writer: Any = None
    try:
        for batch in data.to_batches(columns=names, batch_size=batch_rows):
            if batch.num_rows == 0:
                continue
            table = _scored(twin, batch, keep)
            rows += table.num_rows
            if writes == "json":
                with open(target, "a", encoding="utf-8") as out:
                    out.writelines(json.dumps(row) + "\n" for row in table.to_pylist())
                continue
            if writer is None:
                writer = (
                    pq.ParquetWriter(target, table.schema)
                    if writes == "parquet"
                    else pa_csv.CSVWriter(target, table.schema)
                )
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    (output / "_SUCCESS").write_bytes(b"")
    return rows
