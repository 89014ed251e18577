"""The training profile a deploy records in the card: what each column the model reads looked like in training.

Written by :mod:`registry.spark.profile`, read by the monitor (:mod:`registry.drift`), ``registry show`` and the
catalog. The card's ``profile`` field (``"schema": 1``)::

    {"schema": 1, "rows": 100000, "relative_error": 0.0, "sample_fraction": 1.0,
     "features": [
        {"name": "age", "type": "int", "kind": "numeric", "count": 99800, "nulls": 200,
         "min": 18.0, "max": 95.0, "mean": 41.2, "stddev": 12.9,
         "edges": [24.0, 29.0, ...],              # bin edges: the training deciles, duplicates removed
         "fractions": [0.1, 0.1, ...]},           # len(edges) + 1 bins: (-inf, e1], (e1, e2], ..., (ek, +inf)
        {"name": "plan", "type": "string", "kind": "categorical", "count": 100000, "nulls": 0, "distinct": 4,
         "top": [["basic", 0.61], ["pro", 0.3], ...],   # at most 20 values, most frequent first
         "other": 0.0},                                 # the fraction of the values not in "top"
        {"name": "embedding", "type": "vector", "kind": "unprofiled", "count": 100000, "nulls": 0}],
     "prediction": {... one entry as above, "name" is the prediction column ...} or null,
     "probability": {... numeric, "name" is the probability column, "index": 1 ...} or null}

Fractions are of the non-null values (``count``); ``nulls`` counts nulls and NaN. ``relative_error`` is that of the
quantiles within the rows they were computed from (0: exact; cards of earlier releases: 0.001, from Spark's
``percentile_approx``); edges, fractions, top values and ``distinct`` (the number of distinct values) come from a
uniform sample of ``sample_fraction`` of the rows (1.0: all of them), the features' counts, min, max, mean and stddev
from every row; the prediction and probability from the sample alone (their counts scaled to all rows). A
classifier's prediction is profiled as categorical (the share of each class), a regressor's as numeric;
``probability`` is the probability of the positive class (index 1) of a binary classifier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from registry.exceptions import InvalidInput

__all__ = [
    "DECILES",
    "PROFILE_SCHEMA",
    "RELATIVE_ERROR",
    "TOP_VALUES",
    "ColumnProfile",
    "Kind",
    "Profile",
    "Value",
    "numeric_bin",
]

PROFILE_SCHEMA = 1
#: The quantiles whose values are the numeric bin edges.
DECILES = tuple(i / 10 for i in range(1, 10))
#: The relative error of the quantiles: 0.001 of the rank (``percentile_approx`` accuracy 1000).
RELATIVE_ERROR = 0.001
#: How many of a categorical column's values are recorded (the rest count as "other").
TOP_VALUES = 20

Kind = Literal["numeric", "categorical", "unprofiled"]
#: A categorical value as JSON holds it.
Value = str | float | bool


def _number(value: Any) -> float | None:
    """A finite float, or ``None`` (JSON cannot hold NaN or infinities, and a profile of no rows has no mean)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@dataclass(frozen=True)
class ColumnProfile:
    """One column as it was in training; see the module docstring for the meaning of each field."""

    name: str
    type: str
    kind: Kind
    count: int
    nulls: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    stddev: float | None = None
    edges: tuple[float, ...] = ()
    fractions: tuple[float, ...] = ()
    distinct: int | None = None
    top: tuple[tuple[Value, float], ...] = ()
    other: float = 0.0
    index: int | None = None  # the element of a probability vector

    @property
    def null_rate(self) -> float:
        """Nulls among all rows."""
        total = self.count + self.nulls
        return self.nulls / total if total else 0.0

    @property
    def bins(self) -> int:
        """How many bins the distribution has: ``len(edges) + 1`` numeric, the top values and "other" categorical."""
        if self.kind == "numeric":
            return len(self.edges) + 1
        if self.kind == "categorical":
            return len(self.top) + 1
        return 0

    @property
    def expected(self) -> tuple[float, ...]:
        """The training fraction of every bin, in bin order (categorical: the top values, then "other")."""
        if self.kind == "numeric":
            return self.fractions
        if self.kind == "categorical":
            return (*(fraction for _, fraction in self.top), self.other)
        return ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
        }
        if self.kind == "numeric":
            data.update(
                min=self.min,
                max=self.max,
                mean=self.mean,
                stddev=self.stddev,
                edges=list(self.edges),
                fractions=list(self.fractions),
            )
        elif self.kind == "categorical":
            data.update(distinct=self.distinct, top=[[v, f] for v, f in self.top], other=self.other)
        if self.index is not None:
            data["index"] = self.index
        return data

    @classmethod
    def from_dict(cls, raw: object) -> ColumnProfile:
        """Parse one entry; :class:`InvalidInput` when it lacks a name or kind."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise InvalidInput("Not a column profile: it has no name.")
        kind = raw.get("kind")
        if kind not in ("numeric", "categorical", "unprofiled"):
            raise InvalidInput(f"The profile of column {raw['name']!r} has an unknown kind {kind!r}.")
        numbers = [_number(v) for v in raw.get("edges") or []]
        fractions = [_number(v) for v in raw.get("fractions") or []]
        edges = tuple(v for v in numbers if v is not None)
        if kind == "numeric" and (len(edges) != len(numbers) or len(fractions) != len(edges) + 1):
            raise InvalidInput(
                f"The profile of column {raw['name']!r} has {len(numbers)} edges and "
                f"{len(fractions)} fractions; expected one fraction more than edges."
            )
        top: list[tuple[Value, float]] = []
        for item in raw.get("top") or []:
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int, float, bool)):
                value = item[0] if isinstance(item[0], (str, bool)) else float(item[0])
                top.append((value, _number(item[1]) or 0.0))
        index = raw.get("index")
        distinct = raw.get("distinct")
        return cls(
            name=str(raw["name"]),
            type=str(raw.get("type", "?")),
            kind=kind,
            count=_count(raw.get("count")),
            nulls=_count(raw.get("nulls")),
            min=_number(raw.get("min")),
            max=_number(raw.get("max")),
            mean=_number(raw.get("mean")),
            stddev=_number(raw.get("stddev")),
            edges=edges,
            fractions=tuple(f or 0.0 for f in fractions),
            distinct=distinct if isinstance(distinct, int) and not isinstance(distinct, bool) else None,
            top=tuple(top),
            other=_number(raw.get("other")) or 0.0,
            index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        )

    def summary(self) -> str:
        """One line for tables: ``mean 41.2, sd 12.9, [18, 95]`` or ``4 values: basic 61%, pro 30%, ...``."""
        if self.kind == "numeric":
            return f"mean {_short(self.mean)}, sd {_short(self.stddev)}, min {_short(self.min)}, max {_short(self.max)}"
        if self.kind == "categorical":
            shown = ", ".join(f"{value} {fraction:.0%}" for value, fraction in self.top[:3])
            more = "" if len(self.top) <= 3 and not self.other else ", ..."
            distinct = f"{self.distinct} values: " if self.distinct is not None else ""
            return f"{distinct}{shown}{more}"
        return "not profiled (type not numeric or categorical)"


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def numeric_bin(edges: Sequence[float], value: float) -> int:
    """The bin of ``value``: 0 for ``value <= edges[0]``, ``i`` for ``edges[i-1] < value <= edges[i]``, the last
    for ``value > edges[-1]`` (the same rule as the Spark expressions that count them)."""
    for index, edge in enumerate(edges):
        if value <= edge:
            return index
    return len(edges)


@dataclass(frozen=True)
class Profile:
    """A model's training profile: each column it reads, its prediction and positive-class probability."""

    rows: int
    relative_error: float
    features: tuple[ColumnProfile, ...]
    prediction: ColumnProfile | None = None
    probability: ColumnProfile | None = None
    sample_fraction: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """The card's ``profile`` field."""
        return {
            "schema": PROFILE_SCHEMA,
            "rows": self.rows,
            "relative_error": self.relative_error,
            "sample_fraction": self.sample_fraction,
            "features": [f.to_dict() for f in self.features],
            "prediction": self.prediction.to_dict() if self.prediction else None,
            "probability": self.probability.to_dict() if self.probability else None,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Profile:
        """Parse the card's ``profile`` field; :class:`InvalidInput` when it does not have the schema's shape."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("features"), list):
            raise InvalidInput("Not a training profile: it has no list of features.")
        prediction, probability = raw.get("prediction"), raw.get("probability")
        error = _number(raw.get("relative_error"))
        return cls(
            rows=_count(raw.get("rows")),
            relative_error=RELATIVE_ERROR if error is None else error,
            sample_fraction=_number(raw.get("sample_fraction")) or 1.0,
            features=tuple(ColumnProfile.from_dict(f) for f in raw["features"]),
            prediction=ColumnProfile.from_dict(prediction) if prediction is not None else None,
            probability=ColumnProfile.from_dict(probability) if probability is not None else None,
        )

    @property
    def columns(self) -> tuple[ColumnProfile, ...]:
        """The features, then the prediction and probability where recorded."""
        return (*self.features, *(c for c in (self.prediction, self.probability) if c is not None))
