"""The watermark: a column that names the model version which scored each row.

:class:`VersionedPipeline` fits like a :class:`~pyspark.ml.Pipeline`; its fitted model is a plain, native
:class:`~pyspark.ml.PipelineModel` whose last stage is a ``SQLTransformer``::

    SELECT * FROM (SELECT *, '<not deployed>' AS `pipeline` FROM __THIS__) WHERE `pipeline` IS NOT NULL

No Python UDF and no Python stage: the model saves and loads in the JVM (Scala, Java, another Python without this
library). Before a deploy the column says ``<not deployed>``; :func:`stamp_watermark`, the deploy's ``prepare``
hook, rewrites the literal in the *saved copy* to the coordinate (``com.acme:churn:1.0.3``), so every load of that
release says which one it is, while the caller's model object is left as it was.

Why the sub-query: a plain ``SELECT *, '...' AS pipeline`` silently gives two ``pipeline`` columns when the input
already has one. Referring to the new column in an outer ``WHERE`` makes Spark's analyzer raise
``[AMBIGUOUS_REFERENCE] Reference `pipeline` is ambiguous`` instead, on transform (and when the JVM checks the
schema). The predicate is on a non-null literal, so the optimizer removes it (constant folding, then
``PruneFilters``): the optimized plan is one projection of a literal, nothing measurable per row. Both facts are
checked by tests/spark/test_watermark.py. :class:`VersionedPipeline` also refuses such an input at fit time.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark import keyword_only
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import SQLTransformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import MLWriter
from pyspark.sql import DataFrame

from registry.coordinates import Coordinate
from registry.exceptions import InvalidInput, InvalidModel

if TYPE_CHECKING:
    from pyspark.ml._typing import PipelineStage

__all__ = [
    "DEFAULT_WATERMARK_COL",
    "NOT_DEPLOYED",
    "VersionedPipeline",
    "Watermark",
    "check_column_absent",
    "find_watermark",
    "stamp_watermark",
]

#: What the watermark column says before the model is deployed.
NOT_DEPLOYED = "<not deployed>"
DEFAULT_WATERMARK_COL = "pipeline"
_SQL_TRANSFORMER = "org.apache.spark.ml.feature.SQLTransformer"
# SQLTransformer replaces this token textually, so it must not appear in a column name or a value.
_THIS = "__THIS__"
_STATEMENT = re.compile(
    r"SELECT \* FROM \(SELECT \*, '((?:[^'\\]|\\.)*)' AS (`(?:[^`]|``)+`) FROM __THIS__\) WHERE \2 IS NOT NULL",
    re.DOTALL,
)
# Hadoop's ChecksumFileSystem sidecar: b"crc\0", bytes per checksum, then one CRC-32 per chunk (big-endian).
_CRC_MAGIC = b"crc\x00"
_BYTES_PER_CRC = 512


def _check_text(value: str, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"The watermark {what} must be a non-empty string, not {value!r}.")
    if _THIS in value or any(not c.isprintable() for c in value):
        raise InvalidInput(f"The watermark {what} {value!r} must not contain {_THIS} or control characters.")


@dataclass(frozen=True)
class Watermark:
    """A watermark column and the value it adds to every row."""

    column: str
    value: str

    def __post_init__(self) -> None:
        _check_text(self.column, "column")
        _check_text(self.value, "value")

    @property
    def statement(self) -> str:
        """The ``SQLTransformer`` statement (column backquoted, value escaped as a Spark SQL string literal)."""
        column = "`" + self.column.replace("`", "``") + "`"
        literal = "'" + self.value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        # Both parts are quoted just above: the column backquoted, the value escaped as a string literal.
        return f"SELECT * FROM (SELECT *, {literal} AS {column} FROM {_THIS}) WHERE {column} IS NOT NULL"  # noqa: S608

    @classmethod
    def parse(cls, statement: str) -> Watermark | None:
        """The watermark a statement adds, or ``None`` if it is not a watermark statement."""
        match = _STATEMENT.fullmatch(statement)
        if match is None:
            return None
        value = re.sub(r"\\(.)", r"\1", match.group(1), flags=re.DOTALL)
        return cls(match.group(2)[1:-1].replace("``", "`"), value)

    def stage(self) -> SQLTransformer:
        """A new ``SQLTransformer`` that adds this watermark."""
        return SQLTransformer(statement=self.statement)


def find_watermark(model: PipelineModel) -> Watermark | None:
    """The watermark of a fitted model (its last watermark stage, nested pipelines included), or ``None``."""
    found: Watermark | None = None
    for stage in model.stages:
        if isinstance(stage, PipelineModel):
            found = find_watermark(stage) or found
        elif isinstance(stage, SQLTransformer) and stage.isDefined(stage.statement):
            found = Watermark.parse(stage.getStatement()) or found
    return found


def check_column_absent(dataset: DataFrame, column: str) -> None:
    """Refuse an input that already has the watermark column (compared as Spark resolves names)."""
    case_sensitive = str(dataset.sparkSession.conf.get("spark.sql.caseSensitive", "false")).lower() == "true"

    def same(name: str) -> bool:
        return name == column if case_sensitive else name.lower() == column.lower()

    clashing = [name for name in dataset.columns if same(name)]
    if clashing:
        raise InvalidInput(
            f"The input already has a column {clashing[0]!r}, the watermark column of this pipeline. Rename or drop "
            f"it, or choose another watermark column with setWatermarkCol(...)."
        )


class VersionedPipeline(Pipeline):
    """A :class:`~pyspark.ml.Pipeline` whose fitted model adds a watermark column (``pipeline`` by default).

    The fitted model is a plain ``PipelineModel``: the stages, then a ``SQLTransformer`` adding the column. Saving
    this (unfitted) estimator writes a plain ``Pipeline`` with that stage appended, which fits to the same model.
    """

    watermarkCol: Param[str] = Param(
        Params._dummy(),
        "watermarkCol",
        "name of the column that says which model version scored each row",
        typeConverter=TypeConverters.toString,
    )

    @keyword_only
    def __init__(self, *, stages: list[PipelineStage] | None = None, watermarkCol: str = DEFAULT_WATERMARK_COL):
        given = self._input_kwargs  # Pipeline.__init__ below is keyword_only too and overwrites it
        super().__init__()
        self._setDefault(watermarkCol=DEFAULT_WATERMARK_COL)
        self.setParams(**given)

    @keyword_only
    def setParams(
        self, *, stages: list[PipelineStage] | None = None, watermarkCol: str | None = None
    ) -> VersionedPipeline:
        """Set the stages and/or the watermark column."""
        return self._set(**self._input_kwargs)

    def setWatermarkCol(self, value: str) -> VersionedPipeline:
        """Set the name of the watermark column."""
        return self._set(watermarkCol=value)

    def getWatermarkCol(self) -> str:
        """The name of the watermark column."""
        return self.getOrDefault(self.watermarkCol)

    def _watermark(self) -> Watermark:
        return Watermark(self.getWatermarkCol(), NOT_DEPLOYED)

    def _expanded(self) -> Pipeline:
        """The plain Pipeline this one stands for: the stages, then the watermark stage."""
        pipeline = Pipeline(stages=[*self.getStages(), self._watermark().stage()])
        pipeline._resetUid(self.uid)
        return pipeline

    def _fit(self, dataset: DataFrame) -> PipelineModel:
        watermark = self._watermark()
        check_column_absent(dataset, watermark.column)
        return Pipeline(stages=[*self.getStages(), watermark.stage()]).fit(dataset)

    def write(self) -> MLWriter:
        """A writer that saves this as a plain ``Pipeline`` (with the watermark stage), loadable without us."""
        return self._expanded().write()

    def _to_java(self) -> Any:
        return self._expanded()._to_java()


# --- stamping the saved copy -----------------------------------------------------------------------------


def _metadata_file(directory: Path) -> Path | None:
    parts = sorted(p for p in (directory / "metadata").glob("part-*") if p.is_file())
    return parts[0] if len(parts) == 1 else None


def _crc_sidecar(data: bytes) -> bytes:
    chunks = (data[i : i + _BYTES_PER_CRC] for i in range(0, len(data), _BYTES_PER_CRC))
    return _CRC_MAGIC + struct.pack(">i", _BYTES_PER_CRC) + b"".join(struct.pack(">I", zlib.crc32(c)) for c in chunks)


def _stamp_stage(directory: Path, value: str) -> bool:
    """Rewrite the statement of a saved watermark stage; False if ``directory`` is not one."""
    part = _metadata_file(directory)
    if part is None:
        return False
    try:
        metadata = json.loads(part.read_bytes())
    except ValueError:
        return False
    if not isinstance(metadata, dict) or metadata.get("class") != _SQL_TRANSFORMER:
        return False
    params = metadata.get("paramMap") or {}
    watermark = Watermark.parse(params.get("statement", "")) if isinstance(params, dict) else None
    if watermark is None:
        return False
    params["statement"] = Watermark(watermark.column, value).statement
    data = json.dumps(metadata, separators=(",", ":")).encode("utf-8") + b"\n"
    part.write_bytes(data)
    # Hadoop's local file system verifies this sidecar on read and refuses a file that no longer matches it.
    crc = part.with_name(f".{part.name}.crc")
    if crc.exists():
        crc.write_bytes(_crc_sidecar(data))
    return True


def stamp_watermark(model_dir: Path, coordinate: Coordinate | str) -> int:
    """Write ``coordinate`` into every watermark stage saved under ``model_dir``; returns how many were stamped.

    This is the deploy's ``prepare`` hook: it changes the saved files only, never a model object.
    """
    if not (model_dir / "metadata").is_dir():
        raise InvalidModel(f"{model_dir} is not a saved Spark model (it has no metadata/ directory).")
    stamped = 0
    for metadata_dir in sorted(model_dir.rglob("metadata")):
        if metadata_dir.is_dir() and _stamp_stage(metadata_dir.parent, str(coordinate)):
            stamped += 1
    return stamped
