"""Monitor scored data: ``monitor(scored)`` compares what each model version scored with its training profile.

The versions come from the watermark column (``pipeline`` by default, see :mod:`registry.spark.watermark`), their
cards from the repository (:func:`registry.cards.read_card`). The counting is one grouped aggregation over all
versions at once (plus one small ``distinct`` of the watermark column to learn the versions, unless ``versions=``
names them): each row becomes one ``(column, value)`` entry per column the versions read, plus one that counts the
row, and each entry's bin (and whether it lies outside the training range) is one expression that looks the bin
edges, top values and range up by (version index, column) in literal arrays built from the cards; the entries are
counted by ``(version index, column, bin)``. The code Spark generates for that expression does not grow with the
number of columns or versions: a ``CASE`` per column and version, as before, grew past the 8,000 bytes of
bytecode above which the JVM does not compile a method (Spark's ``spark.sql.codegen.hugeMethodLimit`` only falls
back above 65,535) and ran interpreted, 4 to 5 times slower (``benchmarks/RESULTS.md``, section 11). The
arithmetic (PSI, verdicts, thresholds) is :mod:`registry.drift`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from registry.coordinates import Coordinate
from registry.drift import ColumnDrift, DriftReport, Role, Thresholds, VersionDrift, compare_column
from registry.exceptions import InvalidCoordinate, InvalidInput
from registry.modelcard import ModelCard
from registry.profile import ColumnProfile, Profile
from registry.repository.base import Repository
from registry.settings import Settings
from registry.spark.card import sql_name
from registry.spark.profile import value_column
from registry.spark.watermark import DEFAULT_WATERMARK_COL, NOT_DEPLOYED

__all__ = ["Monitored", "monitor", "report_frame"]

_COLUMN = StructType(
    [
        StructField("name", StringType()),
        StructField("role", StringType()),
        StructField("kind", StringType()),
        StructField("psi", DoubleType()),
        StructField("null_rate_training", DoubleType()),
        StructField("null_rate_scored", DoubleType()),
        StructField("null_rate_change", DoubleType()),
        StructField("outside_range", DoubleType()),
        StructField("verdict", StringType()),
        StructField("training", ArrayType(DoubleType())),
        StructField("scored", ArrayType(DoubleType())),
    ]
)
#: The schema of the monitor's DataFrame: one row per model version.
SCHEMA = StructType(
    [
        StructField("version", StringType()),
        StructField("rows", LongType()),
        StructField("verdict", StringType()),
        StructField("drifted", ArrayType(StringType())),
        StructField("drifting", ArrayType(StringType())),
        StructField("prediction_psi", DoubleType()),
        StructField("prediction_verdict", StringType()),
        StructField("probability_psi", DoubleType()),
        StructField("columns", ArrayType(_COLUMN)),
    ]
)


@dataclass(frozen=True)
class Monitored:
    """The monitor's result: ``frame`` (one row per version, :data:`SCHEMA`) and the ``report`` it shows.

    ``print(result)`` prints the report; ``result.report.fails("drifted")`` says whether to alert.
    """

    frame: DataFrame
    report: DriftReport

    def __str__(self) -> str:
        return str(self.report)


@dataclass(frozen=True)
class _Watched:
    """One (role, column) across the versions that record it."""

    role: Role
    name: str
    value: Column
    profiles: Mapping[str, ColumnProfile]  # version -> its training profile of the column

    @property
    def bins(self) -> int:
        return max(p.bins for p in self.profiles.values())


def _versions(scored: DataFrame, watermark_col: str) -> list[str]:
    found = [row[0] for row in scored.select(watermark_col).distinct().collect()]
    if None in found:
        raise InvalidInput(
            f"Some rows of the scored data have no model version (null in {watermark_col!r}); filter them out "
            f"(scored.where(F.col({watermark_col!r}).isNotNull())) and monitor again."
        )
    if not found:
        raise InvalidInput("The scored data has no rows: there is nothing to monitor.")
    return sorted(str(v) for v in found)


def _card(version: str, repository: Repository | str | None, settings: Settings | None) -> ModelCard:
    from registry.cards import read_card  # reads the repository: only when no card is given

    if version == NOT_DEPLOYED:
        raise InvalidInput(
            f"Rows of the scored data were scored by a model that was never deployed (the watermark says "
            f"{NOT_DEPLOYED!r}), which has no training profile. Deploy it and score with the deployed model, or "
            "filter those rows out."
        )
    try:
        coordinate = Coordinate.parse(version)
    except InvalidCoordinate:
        raise InvalidInput(
            f"The watermark value {version!r} is not a model coordinate (GROUP:ARTIFACT:MAJOR.MINOR.BUILD). Is the "
            "watermark column right? Pass watermark_col= (the pipeline's watermarkCol)."
        ) from None
    return read_card(coordinate, repository=repository, settings=settings, promotion=False).card


def _profile(version: str, card: ModelCard) -> Profile:
    if not card.profile:
        raise InvalidInput(
            f"{version} has no training profile in its model card: it was deployed without training_data (as "
            "'registry deploy DIR' deploys). Redeploy it with registry.spark.deploy(model, ..., training_data=...) "
            f"to monitor it, or monitor only the rows whose watermark is not {version}."
        )
    return Profile.from_dict(card.profile)


def _watched(scored: DataFrame, profiles: Mapping[str, Profile]) -> tuple[list[_Watched], dict[str, list[str]]]:
    """The columns to compare, and per version the notes on what could not be (missing prediction columns)."""
    types = {f.name: f.dataType for f in scored.schema.fields}
    watched: dict[tuple[Role, str], dict[str, ColumnProfile]] = {}
    notes: dict[str, list[str]] = {v: [] for v in profiles}
    for version, profile in profiles.items():
        missing = [f.name for f in profile.features if f.name not in types]
        if missing:
            raise InvalidInput(
                f"The scored data has no column {', '.join(map(repr, missing))}, which {version} reads (its columns: "
                f"{sorted(types)}). Monitor the output of model.transform(), which keeps the input columns."
            )
        roles: list[tuple[Role, ColumnProfile | None]] = [("feature", f) for f in profile.features]
        roles += [("prediction", profile.prediction), ("probability", profile.probability)]
        for role, column in roles:
            if column is None or column.kind == "unprofiled":
                continue
            if column.name not in types:
                notes[version].append(f"{role} column {column.name!r} is not in the scored data: not compared")
                continue
            watched.setdefault((role, column.name), {})[version] = column
    found = []
    for (role, name), by_version in watched.items():
        first = next(iter(by_version.values()))
        value = value_column(name, types[name], first.kind, first.index)
        found.append(_Watched(role, name, value, by_version))
    return found, notes


@dataclass(frozen=True)
class _Tables:
    """What :func:`_count_bins` looks up for an entry, as literal arrays indexed by ``version * (columns + 1) +
    column`` (0-based; the extra last column counts rows): the kind (0 not read by that version, 1 numeric,
    2 categorical, 3 the row counter), the numeric bin edges padded with infinity to ``width``, the top categorical
    values as strings, and the training range."""

    kind: Column
    edges: Column
    top: Column
    low: Column
    high: Column
    width: int


def _tables(found: Sequence[str], watched: Sequence[_Watched]) -> _Tables:
    width = max((len(p.edges) for w in watched for p in w.profiles.values() if p.kind == "numeric"), default=0)
    kinds, edges, tops, lows, highs = [], [], [], [], []
    for version in found:
        for column in [*watched, None]:
            profile = column.profiles.get(version) if column is not None else None
            kind = 3 if column is None else 0 if profile is None else 1 if profile.kind == "numeric" else 2
            bounds = list(profile.edges) if profile is not None and kind == 1 else []
            values = [v for v, _ in profile.top] if profile is not None and kind == 2 else []
            ranged = profile is not None and kind == 1 and profile.min is not None and profile.max is not None
            kinds.append(F.lit(kind))
            edges.append(F.array(*(F.lit(e) for e in [*bounds, *[math.inf] * (width - len(bounds))])))
            tops.append(F.array(*(F.lit(v).cast("string") for v in values)).cast("array<string>"))
            lows.append(F.lit(profile.min if ranged and profile is not None else None).cast("double"))
            highs.append(F.lit(profile.max if ranged and profile is not None else None).cast("double"))
    return _Tables(F.array(*kinds), F.array(*edges), F.array(*tops), F.array(*lows), F.array(*highs), width)


def _count_bins(
    scored: DataFrame, watermark_col: str, found: Sequence[str], watched: Sequence[_Watched]
) -> tuple[dict[tuple[str, int], dict[int, int]], dict[tuple[str, int], int]]:
    """Per (version, column index): the count of each bin (-1: null) and of the values outside the training range;
    column ``len(watched)`` counts the rows (bin 0). One grouped aggregation (module docstring)."""
    mark = F.col(sql_name(watermark_col))
    version = F.when(mark == found[0], F.lit(0))
    for index, name in enumerate(found[1:], start=1):
        version = version.when(mark == name, F.lit(index))
    items = []
    for j, column in enumerate([*watched, None]):
        kinds = {p.kind for p in column.profiles.values()} if column is not None else set()
        number = column.value if column is not None and "numeric" in kinds else F.lit(None)
        text = column.value if column is not None and "categorical" in kinds else F.lit(None)
        items.append(F.struct(F.lit(j).alias("j"), number.cast("double").alias("x"), text.cast("string").alias("s")))
    entries = (
        scored.select(version.alias("v"), F.array(*items).alias("items"))
        .where(F.col("v").isNotNull())
        .select("v", F.explode("items").alias("e"))
        .select("v", "e.*")
    )
    tables = _tables(found, watched)
    at = F.col("v") * (len(watched) + 1) + F.col("j") + 1  # element_at counts from 1
    kind, x, text = F.element_at(tables.kind, at), F.col("x"), F.col("s")
    edges = F.element_at(tables.edges, at)
    numeric_bin = sum(((x > edges[k]).cast("int") for k in range(tables.width)), F.lit(0))  # edges below x
    top = F.element_at(tables.top, at)
    # from 1; 0: not a top value (pyspark 3.5's array_position takes only a literal value, so through SQL's)
    position = F.call_function("array_position", top, text)
    categorical_bin = F.when(position == 0, F.size(top)).otherwise(position - 1)
    bin_ = (
        F.when(kind == 0, F.lit(None))
        .when(kind == 3, F.lit(0))
        .when(x.isNull() & text.isNull(), F.lit(-1))
        .when(kind == 1, numeric_bin)
        .otherwise(categorical_bin)
    )
    outside = F.coalesce((x < F.element_at(tables.low, at)) | (x > F.element_at(tables.high, at)), F.lit(False))
    counted = (
        entries.select("v", "j", bin_.alias("b"), outside.cast("int").alias("o"))
        .where(F.col("b").isNotNull())
        .groupBy("v", "j", "b")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("o").alias("out"))
        .collect()
    )
    bins: dict[tuple[str, int], dict[int, int]] = {}
    outside_counts: dict[tuple[str, int], int] = {}
    for row in counted:
        key = (found[int(row["v"])], int(row["j"]))
        bins.setdefault(key, {})[int(row["b"])] = int(row["n"])
        outside_counts[key] = outside_counts.get(key, 0) + int(row["out"] or 0)
    return bins, outside_counts


def monitor(
    scored: DataFrame,
    *,
    watermark_col: str = DEFAULT_WATERMARK_COL,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    cards: Mapping[str, ModelCard] | None = None,
    versions: Sequence[str] | None = None,
    thresholds: Thresholds | None = None,
) -> Monitored:
    """Compare what each model version scored in ``scored`` with its training profile.

    :param scored: the output of one or more watermarked models' ``transform`` (a union of several versions is
        fine): the columns each model reads, its prediction, and the watermark column.
    :param watermark_col: the column that names the version of each row.
    :param repository: where the versions' cards are read (as for ``resolve``); ``None``: the configured default.
    :param cards: the cards of the versions, by coordinate, instead of reading them from the repository.
    :param versions: the versions in ``scored``, if known: saves the ``distinct`` job that finds them.
    :param thresholds: where ``drifting`` and ``drifted`` start (default PSI 0.1 and 0.25; see
        :mod:`registry.drift`).
    :returns: the report and its DataFrame (one row per version: rows scored, verdict, drifted and drifting
        features, prediction PSI, and per column PSI, null rates, share outside the training range, verdict).
    :raises InvalidInput: no watermark column, rows of an undeployed model, a version without a training profile,
        or a column the model reads missing from ``scored``. :raises ArtifactNotFound: a version or its card is
        not in the repository.
    """
    thresholds = thresholds or Thresholds()
    if watermark_col not in scored.columns:
        raise InvalidInput(
            f"The scored data has no watermark column {watermark_col!r} (its columns: {scored.columns}). Score with "
            "a model deployed from a VersionedPipeline (registry.spark.resolve(...).transform(df)), or pass "
            "watermark_col= if the pipeline names it otherwise."
        )
    found = list(versions) if versions is not None else _versions(scored, watermark_col)
    given = dict(cards or {})
    profiles = {v: _profile(v, given[v] if v in given else _card(v, repository, settings)) for v in found}
    watched, notes = _watched(scored, profiles)

    bins, outside_counts = _count_bins(scored, watermark_col, found, watched)
    entries = []
    for version in found:
        rows = bins.get((version, len(watched)), {}).get(0, 0)
        compared: list[ColumnDrift] = []
        for j, column in enumerate(watched):
            trained = column.profiles.get(version)
            if trained is None:
                continue
            counts = bins.get((version, j), {})
            compared.append(
                compare_column(
                    trained,
                    column.role,
                    rows=rows,
                    nulls=counts.get(-1, 0),
                    counts=[counts.get(k, 0) for k in range(trained.bins)],
                    outside=outside_counts.get((version, j), 0) if trained.kind == "numeric" else None,
                    thresholds=thresholds,
                )
            )
        order = {"feature": 0, "prediction": 1, "probability": 2}
        compared.sort(key=lambda c: order[c.role])
        entries.append(VersionDrift(version, rows, tuple(compared), tuple(notes[version])))
    report = DriftReport(tuple(entries), thresholds, watermark_col)
    return Monitored(report_frame(report, scored.sparkSession), report)


def report_frame(report: DriftReport, spark: SparkSession) -> DataFrame:
    """The report as a DataFrame of :data:`SCHEMA`, one row per version (built on the driver: no job)."""
    rows = []
    for v in report.versions:
        prediction, probability = v.column("prediction"), v.column("probability")
        rows.append(
            Row(
                version=v.version,
                rows=v.rows,
                verdict=v.verdict,
                drifted=list(v.with_verdict("drifted")),
                drifting=list(v.with_verdict("drifting")),
                prediction_psi=prediction.psi if prediction else None,
                prediction_verdict=prediction.verdict if prediction else None,
                probability_psi=probability.psi if probability else None,
                columns=[
                    (
                        c.name,
                        c.role,
                        c.kind,
                        c.psi,
                        c.null_rate_training,
                        c.null_rate_scored,
                        c.null_rate_change,
                        c.outside_range,
                        c.verdict,
                        list(c.expected),
                        list(c.actual),
                    )
                    for c in v.columns
                ],
            )
        )
    return spark.createDataFrame(rows, SCHEMA)
