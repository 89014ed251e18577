"""Diff: what changed between two model versions, from their cards alone.

Sections, in order: ``metrics`` (every metric of either version, with ``b - a``), ``params`` (per stage),
``stages`` (stages only one version has), ``input_schema`` (columns added, removed or retyped), ``training_data``
(fingerprint, rows, source, table version, schema), ``code`` (commit, remote, dirty) and ``labels``.

Stages are paired by uid first (a refit of the same pipeline object keeps its uids), then by position and class
(a pipeline built again gets new uids but the same shape); a stage left unpaired is reported as added or removed.
Param values that differ only by the stage's own uid (Spark's default ``StringIndexer_4b1c__output``) are equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from registry.modelcard import ModelCard, Stage, stages
from registry.repository.base import Repository
from registry.settings import Settings, using_repository
from registry.store import Cache, VersionCard, fetch_card, select

__all__ = ["SECTIONS", "CardDiff", "Change", "diff", "diff_cards"]

SECTIONS = ("metrics", "params", "stages", "input_schema", "training_data", "code", "labels")
_TRAINING_KEYS = ("fingerprint", "rows", "source", "table_version", "schema")
_CODE_KEYS = ("commit", "remote", "dirty")


@dataclass(frozen=True)
class Change:
    """One difference: ``key`` in ``section`` was ``a`` and is ``b`` (``None`` where absent)."""

    section: str
    key: str
    a: Any
    b: Any
    stage: str | None = None
    delta: float | None = None

    @property
    def changed(self) -> bool:
        """False only for a metric listed because both versions have it, with the same value."""
        return bool(self.a != self.b)


@dataclass(frozen=True)
class CardDiff:
    """The differences between the cards of versions ``a`` and ``b``."""

    a: str
    b: str
    changes: tuple[Change, ...]

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


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _metrics(a: ModelCard, b: ModelCard) -> list[Change]:
    before, after = _mapping(a.metrics), _mapping(b.metrics)
    changes = []
    for name in sorted(set(before) | set(after)):
        x, y = _number(before.get(name)), _number(after.get(name))
        delta = y - x if x is not None and y is not None else None
        changes.append(Change("metrics", name, before.get(name), after.get(name), delta=delta))
    return changes


def _pair_stages(a: list[Stage], b: list[Stage]) -> tuple[list[tuple[Stage, Stage]], list[Stage], list[Stage]]:
    """``(pairs, only in a, only in b)``."""
    unpaired_b = list(b)
    pairs: list[tuple[Stage, Stage]] = []
    unpaired_a: list[Stage] = []
    for stage in a:
        twin = next((t for t in unpaired_b if stage.uid and t.uid == stage.uid), None)
        if twin is not None:
            unpaired_b.remove(twin)
            pairs.append((stage, twin))
        else:
            unpaired_a.append(stage)
    only_a: list[Stage] = []
    for stage in unpaired_a:
        twin = next((t for t in unpaired_b if (t.path, t.class_name) == (stage.path, stage.class_name)), None)
        if twin is not None:
            unpaired_b.remove(twin)
            pairs.append((stage, twin))
        else:
            only_a.append(stage)
    pairs.sort(key=lambda pair: [int(part) for part in pair[1].path.split(".")])
    return pairs, only_a, unpaired_b


def _stage_changes(a: ModelCard, b: ModelCard) -> list[Change]:
    pairs, only_a, only_b = _pair_stages(stages(a), stages(b))
    changes: list[Change] = []
    for x, y in pairs:
        label = y.label if x.label == y.label else f"{x.label} / {y.label}"
        if x.class_name != y.class_name:
            changes.append(Change("stages", "class", x.class_name, y.class_name, stage=label))
        for name in sorted(set(x.params) | set(y.params)):
            before, after = x.params.get(name), y.params.get(name)
            if (name in x.params) != (name in y.params) or x.comparable_params[name] != y.comparable_params[name]:
                changes.append(Change("params", name, before, after, stage=label))
    changes += [Change("stages", f"#{s.path}", s.class_name, None, stage=s.label) for s in only_a]
    changes += [Change("stages", f"#{s.path}", None, s.class_name, stage=s.label) for s in only_b]
    # Params first, then stage changes, so that the sections read in SECTIONS order.
    return sorted(changes, key=lambda c: SECTIONS.index(c.section))


def _column(entry: Mapping[str, Any]) -> str:
    return f"{entry.get('type', '?')}{'' if entry.get('nullable', True) else ' not null'}"


def _schema(a: ModelCard, b: ModelCard) -> list[Change]:
    def columns(card: ModelCard) -> dict[str, str]:
        schema = card.input_schema if isinstance(card.input_schema, list) else []
        return {str(c.get("name")): _column(c) for c in schema if isinstance(c, Mapping)}

    before, after = columns(a), columns(b)
    order = list(before) + [name for name in after if name not in before]
    return [
        Change("input_schema", name, before.get(name), after.get(name))
        for name in order
        if before.get(name) != after.get(name)
    ]


def _fields(section: str, keys: tuple[str, ...], a: Any, b: Any) -> list[Change]:
    before, after = _mapping(a), _mapping(b)
    return [Change(section, k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


def diff_cards(a: ModelCard, b: ModelCard) -> CardDiff:
    """The differences between two cards (see the module docstring for what is compared)."""
    changes = [
        *_metrics(a, b),
        *_stage_changes(a, b),
        *_schema(a, b),
        *_fields("training_data", _TRAINING_KEYS, a.training_data, b.training_data),
        *_fields("code", _CODE_KEYS, a.code, b.code),
    ]
    if sorted(a.labels) != sorted(b.labels):
        changes.append(Change("labels", "labels", sorted(a.labels), sorted(b.labels)))
    return CardDiff(a.coordinate, b.coordinate, tuple(changes))


def diff(
    a: str,
    b: str,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
) -> tuple[VersionCard, VersionCard, CardDiff]:
    """Compare two versions.

    :param a: ``GROUP:ARTIFACT:SELECTOR``, e.g. ``com.acme:churn:1.0.2`` or ``com.acme:churn:latest.release``.
    :param b: the same, or a bare selector (``1.0.3``) meaning that version of ``a``'s artifact.
    :returns: both versions' cards and their differences.
    :raises InvalidCoordinate, InvalidSelector: a spec does not parse. :raises ArtifactNotFound: a version, or its
        card, does not exist. :raises IntegrityError: a card does not match its checksum.
    """
    with using_repository(repository, settings) as (repo, active):
        cache = Cache(active.cache_dir)
        first_at = select(a, repo)
        first = VersionCard(first_at, fetch_card(repo, first_at, cache=cache))
        second_at = select(b, repo, first_at.module)
        second = VersionCard(second_at, fetch_card(repo, second_at, cache=cache))
    return first, second, diff_cards(first.card, second.card)
