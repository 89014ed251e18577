"""The charts of a catalog page: one metric across an artifact's builds, as SVG geometry (numbers the templates
draw; no drawing here)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from registry import formatting

__all__ = ["ChartPoint", "MetricChart", "Tick", "metric_chart"]

_WIDTH_PER_POINT = 44
_MIN_PLOT_WIDTH, _MAX_PLOT_WIDTH = 160, 720
_PLOT_HEIGHT = 150
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 24, 16, 78
_LABEL_SPACING = 16  # pixels between rotated version labels; closer ones are thinned out


@dataclass(frozen=True)
class ChartPoint:
    """One build on a chart: where it is drawn, and what its label and tooltip say."""

    x: float
    y: float
    version: str
    value: str
    labelled: bool


@dataclass(frozen=True)
class Tick:
    """A value on the y axis and its height in the chart."""

    y: float
    label: str


@dataclass(frozen=True)
class MetricChart:
    """A metric across builds, oldest left; coordinates are SVG user units."""

    metric: str
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    points: tuple[ChartPoint, ...]
    ticks: tuple[Tick, ...]
    missing: tuple[str, ...] = ()  #: the versions that record no value of this metric (not drawn)

    @property
    def polyline(self) -> str:
        """The ``points`` attribute of the line through every build."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) that cover ``low`` to ``high``."""
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start, end = math.floor(low / step) * step, math.ceil(high / step) * step
    return [round(start + i * step, 12) for i in range(round((end - start) / step) + 1)]


def metric_chart(metric: str, values: Sequence[tuple[str, float]], missing: Sequence[str] = ()) -> MetricChart:
    """The chart of ``values``: ``(version, value)`` pairs, oldest first; ``missing`` names the versions without
    the metric, which the page lists under the chart."""
    n = len(values)
    plot_width = min(_MAX_PLOT_WIDTH, max(_MIN_PLOT_WIDTH, _WIDTH_PER_POINT * (n - 1)))
    ticks = _nice_ticks(min(v for _, v in values), max(v for _, v in values))
    low, high = ticks[0], ticks[-1]
    bottom = _TOP + _PLOT_HEIGHT

    def height(value: float) -> float:
        return bottom - (value - low) / (high - low) * _PLOT_HEIGHT

    slot = plot_width / (n - 1) if n > 1 else plot_width
    every = max(1, math.ceil(_LABEL_SPACING / slot))
    points = tuple(
        ChartPoint(
            x=_LEFT + (slot * i if n > 1 else plot_width / 2),
            y=height(value),
            version=version,
            value=formatting.number(value),
            # The newest build is always labelled; others as often as the spacing allows.
            labelled=(n - 1 - i) % every == 0,
        )
        for i, (version, value) in enumerate(values)
    )
    return MetricChart(
        metric=metric,
        width=_LEFT + plot_width + _RIGHT,
        height=bottom + _BOTTOM,
        left=_LEFT,
        top=_TOP,
        right=_LEFT + plot_width,
        bottom=bottom,
        points=points,
        ticks=tuple(Tick(height(t), f"{t:.6g}") for t in ticks),
        missing=tuple(missing),
    )
