"""Versioning rules that mean something: does a new model belong to the same ``major.minor`` as the last one?

``major`` = technique and features: the stage classes, the columns the model reads, or their types.
``minor`` = configuration: the params of the stages. ``build`` = the same configuration retrained.
Values that embed a stage's uid (Spark's default output columns such as ``StringIndexer_4b1c__output``) are
compared with the uid taken out (:attr:`registry.modelcard.Stage.comparable_params`), since every fit gets new
uids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from registry.modelcard import ModelCard, features, stages

__all__ = ["Change", "compare_models"]

Level = Literal["none", "minor", "major"]


@dataclass(frozen=True)
class Change:
    """How ``new`` differs from ``previous``, and the differences in words."""

    level: Level
    differences: tuple[str, ...]

    def __str__(self) -> str:
        return "; ".join(self.differences) if self.differences else "no change"


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def compare_models(previous: ModelCard, new: ModelCard) -> Change:
    """Compare the models two cards describe (stage classes, input schema, params)."""
    before = {stage.label: stage for stage in stages(previous)}
    after = {stage.label: stage for stage in stages(new)}
    major: list[str] = []
    if list(before) != list(after):
        major.append(f"stages changed from [{', '.join(before)}] to [{', '.join(after)}]")
    if features(previous) != features(new):
        major.append(f"input features changed from {list(features(previous))} to {list(features(new))}")
    schema_before = {str(c.get("name")): c.get("type") for c in previous.input_schema or []}
    schema_after = {str(c.get("name")): c.get("type") for c in new.input_schema or []}
    if previous.input_schema is not None and new.input_schema is not None and schema_before != schema_after:
        gone = sorted(set(schema_before) - set(schema_after))
        added = sorted(set(schema_after) - set(schema_before))
        retyped = sorted(k for k in set(schema_before) & set(schema_after) if schema_before[k] != schema_after[k])
        parts = [
            f"removed {gone}" if gone else "",
            f"added {added}" if added else "",
            f"retyped {retyped}" if retyped else "",
        ]
        major.append("input columns " + ", ".join(p for p in parts if p))
    if major:
        return Change("major", tuple(major))
    minor: list[str] = []
    for name, stage in after.items():
        old, now = before[name].comparable_params, stage.comparable_params
        for param in sorted(set(old) | set(now)):
            if old.get(param, "<unset>") != now.get(param, "<unset>"):
                minor.append(
                    f"{param} of stage {name}: {_show(old.get(param, '<unset>'))} -> {_show(now.get(param, '<unset>'))}"
                )
    return Change("minor" if minor else "none", tuple(minor))
