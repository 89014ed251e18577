"""The model card: what is recorded about one model version, inside its jar and as the ``-model.json`` sidecar.

Schema (``"schema": 1``), every key always present so that readers need no guessing::

    schema          1
    coordinate      "com.acme:churn:1.2.7"
    created         ISO-8601 UTC time of the deploy
    deployed_by     {"user": ..., "host": ...}
    tools           {"registry": ..., "python": ..., "spark": ... or null}
    description     free text
    labels          ["prod-candidate", ...]
    metrics         {"areaUnderROC": 0.91, ...}   numbers only
    model           {"class": ..., "stages": [{"uid", "class", "params": {...}, "input_cols", "output_cols"}]}
                    filled in by registry.spark; {} for a plain directory
    input_schema    [{"name", "type", "nullable"}] or null
    output_columns  [...]
    training_data   {"rows", "schema", "fingerprint", "source", "table_version"} or null
    code            {"commit", "remote", "dirty"} or null
    previous        the coordinate this build replaces, or null
    profile         the training profile (see registry.profile) or null
    evaluation_data {"rows", "schema", "fingerprint", "source", "table_version", "metrics"} or null

No credential ever appears in a card: URLs are masked before they are recorded.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import math
import platform
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from registry import __version__
from registry.config import mask_url
from registry.exceptions import InvalidInput

__all__ = ["SCHEMA_VERSION", "ModelCard", "Stage", "code_lineage", "features", "stages"]

SCHEMA_VERSION = 1


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def code_lineage(directory: Path | None = None) -> dict[str, Any] | None:
    """Git commit, remote (masked) and dirtiness of the working directory, or ``None`` outside a checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    remote = git("config", "--get", "remote.origin.url")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "remote": mask_url(remote) if remote else None, "dirty": bool(status)}


def _check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    checked: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"Metric name {name!r} must be a non-empty string.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidInput(f"Metric {name!r} must be a finite number, not {value!r}.")
        checked[name] = float(value) if isinstance(value, float) else value
    return checked


@dataclass(frozen=True)
class ModelCard:
    """One model version's card; see the module docstring for the schema."""

    coordinate: str
    created: str
    deployed_by: Mapping[str, str]
    tools: Mapping[str, str | None]
    description: str = ""
    labels: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)
    input_schema: list[dict[str, Any]] | None = None
    output_columns: list[str] | None = None
    training_data: Mapping[str, Any] | None = None
    code: Mapping[str, Any] | None = None
    previous: str | None = None
    profile: Mapping[str, Any] | None = None
    evaluation_data: Mapping[str, Any] | None = None
    schema: int = SCHEMA_VERSION

    @classmethod
    def create(
        cls,
        coordinate: str,
        *,
        description: str = "",
        labels: tuple[str, ...] | list[str] = (),
        metrics: Mapping[str, Any] | None = None,
        model: Mapping[str, Any] | None = None,
        input_schema: list[dict[str, Any]] | None = None,
        output_columns: list[str] | None = None,
        training_data: Mapping[str, Any] | None = None,
        code: Mapping[str, Any] | None = None,
        spark_version: str | None = None,
        now: dt.datetime | None = None,
    ) -> ModelCard:
        """A card for a deploy happening now, by this user on this host."""
        moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
        return cls(
            coordinate=coordinate,
            created=moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
            deployed_by={"user": _user(), "host": socket.gethostname()},
            tools={"registry": __version__, "python": platform.python_version(), "spark": spark_version},
            description=description,
            labels=tuple(labels),
            metrics=_check_metrics(metrics or {}),
            model=dict(model or {}),
            input_schema=input_schema,
            output_columns=output_columns,
            training_data=training_data,
            code=code,
        )

    def for_coordinate(self, coordinate: str, previous: str | None) -> ModelCard:
        """This card, stamped with the coordinate the deploy was assigned."""
        return ModelCard(**{**asdict(self), "coordinate": coordinate, "previous": previous})

    def to_json(self) -> bytes:
        """Stable, readable JSON (sorted keys), as stored in the jar and the sidecar."""
        data = asdict(self)
        data["labels"] = list(self.labels)
        return (json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> ModelCard:
        """Parse a card written by :meth:`to_json` (unknown keys of newer schemas are ignored)."""
        raw = json.loads(data)
        if not isinstance(raw, dict) or not isinstance(raw.get("coordinate"), str):
            raise InvalidInput("Not a model card: it has no coordinate.")
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in raw.items() if k in known}
        values["labels"] = tuple(values.get("labels", ()))
        return cls(**values)


def _without_uid(value: Any, uid: str | None) -> Any:
    if not uid:
        return value
    if isinstance(value, str):
        return value.replace(uid, "<uid>")
    if isinstance(value, list):
        return [_without_uid(v, uid) for v in value]
    if isinstance(value, dict):
        return {k: _without_uid(v, uid) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Stage:
    """One stage of a described model, nested pipelines flattened; ``path`` is its position (``2`` or ``2.1``)."""

    path: str
    uid: str | None
    class_name: str
    params: Mapping[str, Any]
    defaults: frozenset[str] = frozenset()
    input_cols: tuple[str, ...] = ()
    output_cols: tuple[str, ...] = ()

    @property
    def short_class(self) -> str:
        """The class name without its package: ``GBTClassificationModel``."""
        return self.class_name.rsplit(".", 1)[-1]

    @property
    def comparable_params(self) -> dict[str, Any]:
        """The params with this stage's uid taken out of their values: Spark's default column names embed it
        (``StringIndexer_4b1c__output``) and every fit makes new uids."""
        return {name: _without_uid(value, self.uid) for name, value in self.params.items()}

    @property
    def label(self) -> str:
        """How the stage is named in tables: ``#2 GBTClassificationModel``."""
        return f"#{self.path} {self.short_class}"


def stages(card: ModelCard) -> list[Stage]:
    """The stages of the card's model, depth first; entries that are not stage objects are skipped.

    Cards are user data that only the checksum vouches for, so a malformed ``model`` gives fewer stages, never an
    exception.
    """
    found: list[Stage] = []

    def walk(entries: object, prefix: str) -> None:
        if not isinstance(entries, list):
            return
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            path = f"{prefix}{index}"
            params = entry.get("params")
            defaults = entry.get("defaults")
            uid = entry.get("uid")
            found.append(
                Stage(
                    path=path,
                    uid=uid if isinstance(uid, str) else None,
                    class_name=str(entry.get("class", "?")),
                    params=params if isinstance(params, dict) else {},
                    defaults=frozenset(str(d) for d in defaults) if isinstance(defaults, list) else frozenset(),
                    input_cols=_names(entry.get("input_cols")),
                    output_cols=_names(entry.get("output_cols")),
                )
            )
            walk(entry.get("stages"), f"{path}.")

    model = card.model if isinstance(card.model, Mapping) else {}
    walk(model.get("stages"), "")
    return found


def _names(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def features(card: ModelCard) -> tuple[str, ...]:
    """The columns the model reads from its input: read by a stage, produced by no earlier one, in order."""
    produced: set[str] = set()
    read: dict[str, None] = {}
    for stage in stages(card):
        read.update((c, None) for c in stage.input_cols if c not in produced)
        produced.update(stage.output_cols)
    return tuple(read)
