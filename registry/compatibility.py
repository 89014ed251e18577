"""Versioning rules that mean something: does a new model belong to the same ``major.minor`` as the last one?

``major`` = technique and features: the stage classes and their order (anything in the ``stages`` section of
``registry diff``), the columns the model reads, or their types. ``minor`` = configuration: the params of the
stages (the ``params`` section). ``build`` = the same configuration retrained. Stages one of the cards does not
record (a model deployed as plain files) are unknown: no verdict is read from them.

The verdict is read off :func:`registry.compare.diff_cards`, so stages pair exactly as ``registry diff`` pairs
them (by uid, then by position and class), and values that embed a stage's uid (Spark's default output columns
such as ``StringIndexer_4b1c__output``) are compared with the uid taken out, since every fit gets new uids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from registry.compare import CardDiff, diff_cards
from registry.modelcard import ModelCard

__all__ = ["Level", "Verdict", "compare_models"]

Level = Literal["none", "minor", "major"]


@dataclass(frozen=True)
class Verdict:
    """How ``new`` differs from ``previous``, and the differences in words."""

    level: Level
    differences: tuple[str, ...]

    def __str__(self) -> str:
        return "; ".join(self.differences) if self.differences else "no change"


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _stages(previous: ModelCard, new: ModelCard, found: CardDiff) -> list[str]:
    changed = found.section("stages")
    if not changed:
        return []
    before, after = [s.label for s in previous.stages], [s.label for s in new.stages]
    if before != after:
        return [f"stages changed from [{', '.join(before)}] to [{', '.join(after)}]"]
    # The same classes at the same places, paired otherwise: stages of one class swapped, or a class renamed.
    return ["stages changed: " + ", ".join(f"{c.stage} {c.key} {_show(c.a)} -> {_show(c.b)}" for c in changed)]


def _columns(previous: ModelCard, new: ModelCard, found: CardDiff) -> list[str]:
    """Columns removed, added or retyped (not nullability), when both cards record an input schema."""
    if previous.input_columns is None or new.input_columns is None:
        return []
    gone = sorted(name for name, _, now in found.columns if now is None)
    added = sorted(name for name, was, _ in found.columns if was is None)
    retyped = sorted(name for name, was, now in found.columns if was and now and was.type != now.type)
    parts = [
        f"removed {gone}" if gone else "",
        f"added {added}" if added else "",
        f"retyped {retyped}" if retyped else "",
    ]
    return ["input columns " + ", ".join(p for p in parts if p)] if gone or added or retyped else []


def compare_models(previous: ModelCard, new: ModelCard) -> Verdict:
    """Compare the models two cards describe (stages, features, input schema, params)."""
    found = diff_cards(previous, new)
    # A card that recorded no stages (a directory deployed as plain files) says nothing about them: unknown, not
    # "changed from []"; the input schema, where both record one, is still compared.
    known = bool(previous.stages) and bool(new.stages)
    major = _stages(previous, new, found) if known else []
    if known and set(previous.features) != set(new.features):  # the columns read; their order is the stages'
        major.append(f"input features changed from {list(previous.features)} to {list(new.features)}")
    major += _columns(previous, new, found)
    if major:
        return Verdict("major", tuple(major))
    minor = tuple(
        f"{name} of stage {pair.label}: {_show(pair.a.comparable_params.get(name, '<unset>'))} -> "
        f"{_show(pair.b.comparable_params.get(name, '<unset>'))}"
        for pair in found.pairs
        for name in pair.changed_params
    )
    return Verdict("minor" if minor else "none", minor)
