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
checked by tests/spark/test_watermark.py. :class:`VersionedPipeline` also refuses such an input at fit time, and
:class:`ReleasedPipelineModel` (what :func:`registry.spark.resolve` returns) before its transform, in our words.
"""

from __future__ import annotations

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
from registry.savedmodel import watermark_rewrites
from registry.watermark import NOT_DEPLOYED, Watermark

if TYPE_CHECKING:
    from pyspark.ml._typing import PipelineStage

__all__ = [
    "DEFAULT_WATERMARK_COL",
    "NOT_DEPLOYED",
    "ReleasedPipelineModel",
    "VersionedPipeline",
    "Watermark",
    "check_column_absent",
    "find_watermark",
    "stamp_watermark",
    "watermark_stage",
]

DEFAULT_WATERMARK_COL = "pipeline"


def watermark_stage(watermark: Watermark) -> SQLTransformer:
    """A new ``SQLTransformer`` that adds ``watermark``."""
    return SQLTransformer(statement=watermark.statement)


def find_watermark(model: PipelineModel) -> Watermark | None:
    """The watermark of a fitted model (its last watermark stage, nested pipelines included), or ``None``."""
    found: Watermark | None = None
    for stage in model.stages:
        if isinstance(stage, PipelineModel):
            found = find_watermark(stage) or found
        elif isinstance(stage, SQLTransformer) and stage.isDefined(stage.statement):
            found = Watermark.parse(stage.getStatement()) or found
    return found


def check_column_absent(dataset: DataFrame, column: str, *, model: str | None = None) -> None:
    """Refuse an input that already has the watermark column (compared as Spark resolves names); ``model``: the
    coordinate of a released model about to transform it (the message then says what to do for a transform)."""
    case_sensitive = str(dataset.sparkSession.conf.get("spark.sql.caseSensitive", "false")).lower() == "true"

    def same(name: str) -> bool:
        return name == column if case_sensitive else name.lower() == column.lower()

    clashing = [name for name in dataset.columns if same(name)]
    if clashing and model is not None:
        raise InvalidInput(
            f"The input already has a column {clashing[0]!r}, the watermark column of {model} (the model adds it to "
            f"say which version scored each row). Drop or rename it before the transform, e.g. "
            f"df.drop({clashing[0]!r})."
        )
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
        pipeline = Pipeline(stages=[*self.getStages(), watermark_stage(self._watermark())])
        pipeline._resetUid(self.uid)
        return pipeline

    def _fit(self, dataset: DataFrame) -> PipelineModel:
        watermark = self._watermark()
        check_column_absent(dataset, watermark.column)
        return Pipeline(stages=[*self.getStages(), watermark_stage(watermark)]).fit(dataset)

    def write(self) -> MLWriter:
        """A writer that saves this as a plain ``Pipeline`` (with the watermark stage), loadable without us."""
        return self._expanded().write()

    def _to_java(self) -> Any:
        return self._expanded()._to_java()


class ReleasedPipelineModel(PipelineModel):
    """A released model as :func:`registry.spark.resolve` loads it: the same stages as the plain
    :class:`~pyspark.ml.PipelineModel`, transforming the same way, except that an input which already has the
    watermark column is refused with one clear error naming the column and the coordinate (Spark's own is
    ``[AMBIGUOUS_REFERENCE]``, see the module's notes). It saves as a plain ``PipelineModel``
    (``org.apache.spark.ml.PipelineModel``, loadable in the JVM and without this library), locally and over
    Spark Connect.
    """

    coordinate: str = ""
    watermark_col: str | None = None

    @classmethod
    def of(cls, model: PipelineModel, coordinate: Coordinate | str) -> ReleasedPipelineModel:
        """``model``'s stages and uid as a released model of ``coordinate`` (the stages are shared, not copied)."""
        released = cls(list(model.stages))
        released._resetUid(model.uid)
        released.coordinate = str(coordinate)
        watermark = find_watermark(model)  # read once: over Connect each param is a round trip
        released.watermark_col = watermark.column if watermark is not None else None
        return released

    def _plain(self) -> PipelineModel:
        plain = PipelineModel(list(self.stages))
        plain._resetUid(self.uid)
        return plain

    def _transform(self, dataset: DataFrame) -> DataFrame:
        if self.watermark_col is not None:
            check_column_absent(dataset, self.watermark_col, model=self.coordinate)
        return super()._transform(dataset)

    def copy(self, extra: Any = None) -> ReleasedPipelineModel:
        return ReleasedPipelineModel.of(super().copy(extra), self.coordinate)

    def write(self) -> MLWriter:
        """The writer of the plain ``PipelineModel`` of these stages: nothing of this class is saved."""
        return self._plain().write()


# --- stamping the saved copy -----------------------------------------------------------------------------


def stamp_watermark(model_dir: Path, coordinate: Coordinate | str) -> int:
    """Write ``coordinate`` into every watermark stage saved under ``model_dir``; returns how many were stamped.

    This is the deploy's ``prepare`` hook: it changes the saved files only, never a model object. The new bytes
    are :func:`registry.savedmodel.watermark_rewrites`', as ``registry deploy DIR`` packs them.
    """
    if not (model_dir / "metadata").is_dir():
        raise InvalidModel(f"{model_dir} is not a saved Spark model (it has no metadata/ directory).")
    rewritten = watermark_rewrites(model_dir, coordinate)
    for path, data in rewritten.items():
        path.write_bytes(data)
    return sum(1 for path in rewritten if not path.name.endswith(".crc"))
