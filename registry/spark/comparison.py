"""Champion and challenger: two model versions scoring the same rows, side by side."""

from __future__ import annotations

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from registry.coordinates import Coordinate
from registry.repository.base import Repository
from registry.settings import Settings
from registry.spark.card import sql_name
from registry.spark.resolve import resolve
from registry.spark.session import active_session
from registry.spark.watermark import check_column_absent, find_watermark

__all__ = ["side_by_side"]

#: What side_by_side takes for a model: a loaded one, a coordinate, or any spec resolve() takes.
ModelSpec = PipelineModel | Coordinate | str


def _added(model: PipelineModel, data: DataFrame, prefix: str) -> DataFrame:
    """``data`` transformed by ``model``, with every column the model added renamed ``PREFIX + name``."""
    watermark = find_watermark(model)
    if watermark is not None:  # our message, not Spark's [AMBIGUOUS_REFERENCE] from the transform
        check_column_absent(data, watermark.column)
    before = set(data.columns)
    scored = model.transform(data)
    return scored.withColumnsRenamed({c: f"{prefix}{c}" for c in scored.columns if c not in before})


def side_by_side(
    df: DataFrame,
    champion: ModelSpec,
    challenger: ModelSpec,
    *,
    spark: SparkSession | None = None,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
) -> DataFrame:
    """Score ``df`` with both models; one row per input row, both predictions side by side.

    :param champion: a loaded ``PipelineModel``, a coordinate, or a spec for :func:`registry.spark.resolve`.
    :param challenger: the same, for the other model.
    :param repository: where specs are resolved from (as for :func:`registry.spark.resolve`).
    :returns: the input columns once, then every column the champion adds (``champion_prediction``,
        ``champion_pipeline`` -- its watermark, ...), then every column the challenger adds (``challenger_...``).

    The models run one after the other on the same rows: the champion's output columns are renamed before the
    challenger runs, so its stages can write their usual column names (``features``, ``prediction``, its own
    watermark) without clashing. This is one pass over the data in one plan, with no join: joining two scored
    copies on a generated row id would need a shuffle, and ids from ``monotonically_increasing_id`` only line
    up when both sides see exactly the same partitions of a deterministic input.
    """
    session = active_session(spark)
    models = [
        m if isinstance(m, PipelineModel) else resolve(m, spark=session, repository=repository, settings=settings)
        for m in (champion, challenger)
    ]
    both = _added(models[1], _added(models[0], df, "champion_"), "challenger_")
    champion_cols = [c for c in both.columns if c.startswith("champion_") and c not in df.columns]
    challenger_cols = [c for c in both.columns if c.startswith("challenger_") and c not in df.columns]
    return both.select(*[F.col(sql_name(c)) for c in (*df.columns, *champion_cols, *challenger_cols)])
