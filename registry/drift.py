"""Drift: how far scored data has moved from the training profile, per model version and per feature.

Pure arithmetic over counts (no Spark): :mod:`registry.spark.monitor` counts the scored rows in each training bin
in one Spark job, and this module turns the counts into the report.

**PSI** (population stability index) of one column: ``sum((a - e) * ln(a / e))`` over its bins, ``e`` the
training fraction and ``a`` the scored fraction of the non-null values in each bin. Numeric bins are the training
deciles (``(-inf, d1], (d1, d2], ..., (d9, +inf)``), so a value outside the training range lands in the first or
last bin; categorical bins are the training's top values, then "other". An empty bin would make the logarithm
infinite, so fractions below :data:`EPSILON` count as ``EPSILON``.

**Verdicts**, per column (:class:`Thresholds`, the defaults being the usual rule of thumb for PSI):

=============  ===================  ================================
verdict        PSI                  or: null rate changed by (abs.)
=============  ===================  ================================
``stable``     < 0.1                < 0.05
``drifting``   0.1 to < 0.25        0.05 to < 0.2
``drifted``    >= 0.25              >= 0.2
=============  ===================  ================================

The share of values outside the training range (``[min, max]``) is reported beside, not judged: those values are
already in the outer bins. A version's verdict is the worst of its columns (features, prediction, probability).
PSI is noisy on few rows: with fewer than about 1,000 scored rows a version's figures are indicative only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from registry.exceptions import InvalidInput
from registry.profile import ColumnProfile

__all__ = [
    "EPSILON",
    "VERDICTS",
    "ColumnDrift",
    "DriftReport",
    "Role",
    "Thresholds",
    "Verdict",
    "VersionDrift",
    "compare_column",
    "psi",
    "worst",
]

#: The smallest fraction a bin counts with in PSI (an empty bin would give an infinite logarithm).
EPSILON = 1e-4
Verdict = Literal["stable", "drifting", "drifted"]
#: Verdicts from best to worst.
VERDICTS: tuple[Verdict, ...] = ("stable", "drifting", "drifted")
Role = Literal["feature", "prediction", "probability"]


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """The population stability index of two distributions over the same bins (fractions summing to 1)."""
    if len(expected) != len(actual):
        raise ValueError(f"psi() needs the same bins on both sides, not {len(expected)} and {len(actual)}")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, epsilon), max(a, epsilon)
        total += (a - e) * math.log(a / e)
    return total


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The worst of ``verdicts`` (``stable`` for none)."""
    return max(verdicts, key=VERDICTS.index, default="stable")


@dataclass(frozen=True)
class Thresholds:
    """Where ``drifting`` and ``drifted`` start; see the module docstring."""

    psi_drifting: float = 0.1
    psi_drifted: float = 0.25
    null_drifting: float = 0.05
    null_drifted: float = 0.2

    def __post_init__(self) -> None:
        if not (0 <= self.psi_drifting <= self.psi_drifted and 0 <= self.null_drifting <= self.null_drifted):
            raise InvalidInput(
                f"Drift thresholds must be non-negative with drifting <= drifted, not {self}. "
                "The defaults are PSI 0.1 and 0.25, null rate change 0.05 and 0.2."
            )

    def verdict(self, psi_value: float | None, null_change: float) -> Verdict:
        """The verdict for a PSI (``None``: no non-null value was scored) and an absolute null-rate change."""
        change = abs(null_change)
        if (psi_value is not None and psi_value >= self.psi_drifted) or change >= self.null_drifted:
            return "drifted"
        if (psi_value is not None and psi_value >= self.psi_drifting) or change >= self.null_drifting:
            return "drifting"
        return "stable"


@dataclass(frozen=True)
class ColumnDrift:
    """One column of one version: its PSI, null rates, share outside the training range, and the verdict.

    ``expected`` and ``actual`` are the training and scored fractions of each bin (see
    :attr:`registry.profile.ColumnProfile.expected` for the order).
    """

    name: str
    role: Role
    kind: str
    psi: float | None
    null_rate_training: float
    null_rate_scored: float
    outside_range: float | None
    verdict: Verdict
    expected: tuple[float, ...] = ()
    actual: tuple[float, ...] = ()

    @property
    def null_rate_change(self) -> float:
        return self.null_rate_scored - self.null_rate_training

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ColumnDrift:
        verdict = raw.get("verdict")
        role = raw.get("role")
        if verdict not in VERDICTS or role not in ("feature", "prediction", "probability"):
            raise InvalidInput(f"Not a drift entry: verdict {verdict!r}, role {role!r}.")
        return cls(
            name=str(raw.get("name")),
            role=role,
            kind=str(raw.get("kind")),
            psi=_optional(raw.get("psi")),
            null_rate_training=float(raw.get("null_rate_training") or 0.0),
            null_rate_scored=float(raw.get("null_rate_scored") or 0.0),
            outside_range=_optional(raw.get("outside_range")),
            verdict=verdict,
            expected=tuple(float(v) for v in raw.get("expected") or ()),
            actual=tuple(float(v) for v in raw.get("actual") or ()),
        )


def _optional(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def compare_column(
    profile: ColumnProfile,
    role: Role,
    *,
    rows: int,
    nulls: int,
    counts: Sequence[int],
    outside: int | None = None,
    thresholds: Thresholds | None = None,
) -> ColumnDrift:
    """Compare one column's scored counts with its training profile.

    :param rows: the rows scored by the version; ``nulls`` of them had no value (null or NaN) in the column.
    :param counts: the non-null values in each of the profile's bins (:attr:`ColumnProfile.bins` of them).
    :param outside: the values below the training minimum or above its maximum (numeric only).
    """
    if len(counts) != profile.bins:
        raise ValueError(f"{profile.name}: {len(counts)} counts for {profile.bins} bins")
    thresholds = thresholds or Thresholds()
    present = sum(counts)
    actual = tuple(c / present for c in counts) if present else tuple(0.0 for _ in counts)
    value = psi(profile.expected, actual) if present and counts else None
    scored_null_rate = nulls / rows if rows else 0.0
    return ColumnDrift(
        name=profile.name,
        role=role,
        kind=profile.kind,
        psi=value,
        null_rate_training=profile.null_rate,
        null_rate_scored=scored_null_rate,
        outside_range=(outside / present if present else 0.0) if outside is not None else None,
        verdict=thresholds.verdict(value, scored_null_rate - profile.null_rate) if rows else "stable",
        expected=profile.expected,
        actual=actual,
    )


@dataclass(frozen=True)
class VersionDrift:
    """One model version in the scored data: how many rows it scored, and each column compared with training."""

    version: str
    rows: int
    columns: tuple[ColumnDrift, ...]
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> Verdict:
        return worst(c.verdict for c in self.columns)

    @property
    def features(self) -> tuple[ColumnDrift, ...]:
        return tuple(c for c in self.columns if c.role == "feature")

    def column(self, role: Role, name: str | None = None) -> ColumnDrift | None:
        """The first column of ``role`` (and ``name``), e.g. ``column("prediction")``."""
        return next((c for c in self.columns if c.role == role and name in (None, c.name)), None)

    def with_verdict(self, verdict: Verdict) -> tuple[str, ...]:
        """The names of the features that got ``verdict``."""
        return tuple(c.name for c in self.features if c.verdict == verdict)


@dataclass(frozen=True)
class DriftReport:
    """The monitor's answer: one entry per model version found in the scored data, in version order."""

    versions: tuple[VersionDrift, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)
    watermark_col: str = "pipeline"

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of any column of any version."""
        return worst(v.verdict for v in self.versions)

    def fails(self, fail_on: Verdict) -> bool:
        """Whether the report is at least as bad as ``fail_on`` (``drifting`` also fails on ``drifted``)."""
        return VERDICTS.index(self.verdict) >= VERDICTS.index(fail_on)

    def version(self, coordinate: str) -> VersionDrift | None:
        return next((v for v in self.versions if v.version == coordinate), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "watermark_col": self.watermark_col,
            "thresholds": asdict(self.thresholds),
            "verdict": self.verdict,
            "versions": [
                {
                    "version": v.version,
                    "rows": v.rows,
                    "verdict": v.verdict,
                    "notes": list(v.notes),
                    "columns": [
                        {**asdict(c), "expected": list(c.expected), "actual": list(c.actual)} for c in v.columns
                    ],
                }
                for v in self.versions
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> DriftReport:
        """Parse a report written by :meth:`to_json` (``registry monitor --json``)."""
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict) or not isinstance(raw.get("versions"), list):
                raise TypeError("no list of versions")
            thresholds = Thresholds(**{k: float(v) for k, v in (raw.get("thresholds") or {}).items()})
            versions = tuple(
                VersionDrift(
                    version=str(v["version"]),
                    rows=int(v["rows"]),
                    columns=tuple(ColumnDrift.from_dict(c) for c in v["columns"]),
                    notes=tuple(str(n) for n in v.get("notes") or ()),
                )
                for v in raw["versions"]
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidInput(
                f"Not a monitor report ({exc}). Write one with 'registry monitor PATH --json > report.json'."
            ) from None
        return cls(versions, thresholds, str(raw.get("watermark_col", "pipeline")))

    @classmethod
    def read(cls, path: Path) -> DriftReport:
        """Read a report file written from ``registry monitor PATH --json``."""
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"Cannot read the monitor report {path}: {exc.strerror}. Check the path.") from None
        return cls.from_json(text)

    def __str__(self) -> str:
        """A plain-text table: one block per version, one line per column."""
        lines: list[str] = []
        header = f"{'column':<24} {'role':<11} {'PSI':>8} {'nulls train':>11} {'nulls now':>9} {'outside':>8}  verdict"
        for v in self.versions:
            lines += [f"{v.version}: {v.rows:,} rows, {v.verdict}", header]
            for c in v.columns:
                lines.append(
                    f"{c.name[:24]:<24} {c.role:<11} {_fixed(c.psi, '.4f'):>8} {c.null_rate_training:>11.2%} "
                    f"{c.null_rate_scored:>9.2%} {_fixed(c.outside_range, '.2%'):>8}  {c.verdict}"
                )
            lines += [f"note: {n}" for n in v.notes]
            lines.append("")
        lines.append(f"overall: {self.verdict}")
        return "\n".join(lines)


def _fixed(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
