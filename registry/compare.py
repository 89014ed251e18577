"""Comparing two model cards: which stage of one is which stage of the other, and every difference between them.

The one comparison engine: the versioning guard (:mod:`registry.compatibility`) derives a level from it and
``registry diff`` (:mod:`registry.diff`) prints its sections, so the two always pair the same stages.

**Pairing.** Stages are paired by uid first: a refit of the same pipeline object keeps its uids, so a stage keeps
its partner even where another stage was inserted before it. The stages left are paired by position and class: a
pipeline built again gets new uids but has the same shape. A stage still unpaired was removed or added. Param values
that differ only by the stage's own uid (Spark's default ``StringIndexer_4b1c__output``) are equal.

**Sections** of a :class:`CardDiff`, in order: ``metrics`` (every metric of either version, with ``b - a``),
``params`` (per paired stage), ``stages`` (paired stages whose class changed, paired stages whose order changed --
not those that only shifted because a stage was added or removed before them -- then stages only one version has),
``input_schema`` (columns added, removed, retyped or made (not) nullable), ``training_data`` (fingerprint, rows,
source, table version, schema), ``code`` (commit, remote, dirty) and ``labels``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from registry.modelcard import Column, ModelCard, Stage

__all__ = ["SECTIONS", "CardDiff", "Change", "ColumnChange", "StagePair", "diff_cards", "pair_stages"]

SECTIONS = ("metrics", "params", "stages", "input_schema", "training_data", "code", "labels")
_TRAINING_KEYS = ("fingerprint", "rows", "source", "table_version", "schema")
_CODE_KEYS = ("commit", "remote", "dirty")

#: An input column that differs: its name, and the column in ``a`` and in ``b`` (``None`` where absent).
ColumnChange = tuple[str, Column | None, Column | None]


@dataclass(frozen=True)
class Change:
    """One difference: ``key`` in ``section`` was ``a`` and is ``b`` (``None`` where absent)."""

    section: str  #: one of :data:`SECTIONS`
    key: str
    a: Any
    b: Any
    stage: str | None = None  #: the label of the stage it concerns (``params`` and ``stages``)
    delta: float | None = None  #: ``b - a`` for a metric of both

    @property
    def changed(self) -> bool:
        """False only for a metric listed because both versions have it, with the same value."""
        return bool(self.a != self.b)


@dataclass(frozen=True)
class StagePair:
    """A stage of version ``a`` and the stage of ``b`` it was paired with."""

    a: Stage
    b: Stage

    @property
    def label(self) -> str:
        """``#2 GBTClassificationModel``, or ``#1 LR / #2 LR`` for a stage that moved or changed class."""
        return self.b.label if self.a.label == self.b.label else f"{self.a.label} / {self.b.label}"

    @property
    def changed_params(self) -> tuple[str, ...]:
        """The params, sorted, set on one side only or whose values differ other than by the stages' own uids."""
        x, y = self.a.comparable_params, self.b.comparable_params
        return tuple(name for name in sorted({*x, *y}) if name not in x or name not in y or x[name] != y[name])


@dataclass(frozen=True)
class CardDiff:
    """The differences between the cards of versions ``a`` and ``b``, and how their stages and columns paired."""

    a: str  #: the coordinate of the version compared from
    b: str  #: and of the version compared to
    changes: tuple[Change, ...]
    pairs: tuple[StagePair, ...] = ()
    columns: tuple[ColumnChange, ...] = ()  #: the input columns that differ

    def section(self, name: str) -> list[Change]:
        """The changes of one section (see :data:`SECTIONS`)."""
        return [c for c in self.changes if c.section == name]

    @property
    def identical(self) -> bool:
        """Whether nothing differs (metrics all equal, everything else the same)."""
        return not any(c.changed for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON data: ``{"a", "b", "identical", SECTION: [change, ...] for each section}``."""
        data: dict[str, Any] = {"a": self.a, "b": self.b, "identical": self.identical}
        for name in SECTIONS:
            data[name] = [{k: v for k, v in asdict(c).items() if k != "section"} for c in self.section(name)]
        return data

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str)


def _same_uid(x: Stage, y: Stage) -> bool:
    return bool(x.uid) and x.uid == y.uid


def _same_place(x: Stage, y: Stage) -> bool:
    return (x.path, x.class_name) == (y.path, y.class_name)


def _position(stage: Stage) -> list[int]:
    return [int(part) for part in stage.path.split(".")]


def pair_stages(
    a: Sequence[Stage], b: Sequence[Stage]
) -> tuple[tuple[StagePair, ...], tuple[Stage, ...], tuple[Stage, ...]]:
    """``(pairs in b's order, stages only in a, stages only in b)``: paired by uid, then by position and class."""
    unpaired = list(b)
    pairs: list[StagePair] = []

    def pair(stages: Iterable[Stage], same: Callable[[Stage, Stage], bool]) -> list[Stage]:
        """Pair each of ``stages`` with the first unpaired stage of ``b`` that is the ``same``; the others."""
        left = []
        for stage in stages:
            twin = next((t for t in unpaired if same(stage, t)), None)
            if twin is None:
                left.append(stage)
            else:
                unpaired.remove(twin)
                pairs.append(StagePair(stage, twin))
        return left

    removed = pair(pair(a, _same_uid), _same_place)
    pairs.sort(key=lambda p: _position(p.b))
    return tuple(pairs), tuple(removed), tuple(unpaired)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _metrics(a: ModelCard, b: ModelCard) -> list[Change]:
    before = a.metrics if isinstance(a.metrics, Mapping) else {}
    after = b.metrics if isinstance(b.metrics, Mapping) else {}
    changes = []
    for name in sorted(set(before) | set(after)):
        x, y = _number(before.get(name)), _number(after.get(name))
        delta = y - x if x is not None and y is not None else None
        changes.append(Change("metrics", name, before.get(name), after.get(name), delta=delta))
    return changes


def _stage_changes(pairs: Sequence[StagePair], removed: Iterable[Stage], added: Iterable[Stage]) -> list[Change]:
    """The ``params`` changes of every pair, then the ``stages`` changes: classes, order, removed, added."""
    changes = [
        Change("params", k, p.a.params.get(k), p.b.params.get(k), p.label) for p in pairs for k in p.changed_params
    ]
    changes += [
        Change("stages", "class", p.a.class_name, p.b.class_name, p.label)
        for p in pairs
        if p.a.class_name != p.b.class_name
    ]
    in_a_order = sorted(pairs, key=lambda p: _position(p.a))
    changes += [
        Change("stages", "position", f"#{p.a.path}", f"#{p.b.path}", p.label)
        for p, q in zip(pairs, in_a_order, strict=True)
        if p is not q
    ]
    changes += [Change("stages", f"#{s.path}", s.class_name, None, s.label) for s in removed]
    changes += [Change("stages", f"#{s.path}", None, s.class_name, s.label) for s in added]
    return changes


def _column_changes(a: ModelCard, b: ModelCard) -> tuple[ColumnChange, ...]:
    """The input columns that differ, in ``a``'s order, then those only ``b`` has."""
    before = {c.name: c for c in a.input_columns or ()}
    after = {c.name: c for c in b.input_columns or ()}
    order = [*before, *(name for name in after if name not in before)]
    return tuple((name, before.get(name), after.get(name)) for name in order if before.get(name) != after.get(name))


def _shown(column: Column | None) -> str | None:
    return None if column is None else str(column)


def _fields(section: str, keys: tuple[str, ...], a: object, b: object) -> list[Change]:
    """The changes of a typed part of the card (``None`` where a version does not record it)."""
    values = [(key, getattr(a, key, None), getattr(b, key, None)) for key in keys]
    return [Change(section, key, x, y) for key, x, y in values if x != y]


def diff_cards(a: ModelCard, b: ModelCard) -> CardDiff:
    """Everything that differs between two cards (see the module docstring for the pairing and the sections)."""
    pairs, removed, added = pair_stages(a.stages, b.stages)
    columns = _column_changes(a, b)
    changes = [
        *_metrics(a, b),
        *_stage_changes(pairs, removed, added),
        *(Change("input_schema", name, _shown(x), _shown(y)) for name, x, y in columns),
        *_fields("training_data", _TRAINING_KEYS, a.training, b.training),
        *_fields("code", _CODE_KEYS, a.lineage, b.lineage),
    ]
    labels = sorted(a.labels, key=str), sorted(b.labels, key=str)  # key=str: a card's labels may be any JSON
    if labels[0] != labels[1]:
        changes.append(Change("labels", "labels", *labels))
    return CardDiff(a.coordinate, b.coordinate, tuple(changes), pairs, columns)
