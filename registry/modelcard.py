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
    files           {"metadata/part-00000": "<sha256>", ...}: the SHA-256 of every file of the saved model (paths
                    relative to the jar's ``model/``), checked by the JVM runtime before it loads the model;
                    absent from cards written before it was recorded
    signed          true: the deploy signed its files (an ``.asc`` beside each); false: it did not (the catalog
                    then shows the version unsigned without asking for an ``.asc``, unless a signature policy
                    is set); absent from cards written before it was recorded
    portable        the release's portable twin (``ARTIFACT-VERSION-onnx.onnx``): {"format", "opsets", "converter",
                    "runtime", "inputs", "outputs", "watermark", "parity": {"rows", "measure", "max_difference",
                    "label_agreement", "tolerance"}}; absent where the release has none

No credential ever appears in a card: URLs are masked before they are recorded.

The fields hold the JSON as it was read. A card is user data that only its checksum vouches for, so the parts
readers use are parsed once, on first use, into typed values that never raise: :attr:`ModelCard.stages`,
:attr:`~ModelCard.features`, :attr:`~ModelCard.input_columns`, :attr:`~ModelCard.training` and
:attr:`~ModelCard.lineage` (a malformed part gives fewer stages, or ``None``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from registry._util import actor, creation_time, utc_stamp
from registry._version import __version__
from registry.exceptions import InvalidInput
from registry.reads import model_reads

__all__ = [
    "CLASSIFIER",
    "SCHEMA_VERSION",
    "CodeLineage",
    "Column",
    "ModelCard",
    "Stage",
    "TrainingData",
    "features",
    "stages",
]

SCHEMA_VERSION = 1
#: Keys added to schema 1 after its first release (readers of older cards see them absent, as ``None``).
_ADDED_KEYS = ("profile", "evaluation_data", "signed", "files", "portable")
#: The card sidecar's classifier: ``ARTIFACT-VERSION-model.json``.
CLASSIFIER = "model"


def _check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    checked: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"Metric name {name!r} must be a non-empty string.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidInput(f"Metric {name!r} must be a finite number, not {value!r}.")
        checked[name] = float(value) if isinstance(value, float) else value
    return checked


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _names(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


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

    @cached_property
    def comparable_params(self) -> dict[str, Any]:
        """The params with this stage's uid taken out of their values: Spark's default column names embed it
        (``StringIndexer_4b1c__output``) and every fit makes new uids."""
        return {name: _without_uid(value, self.uid) for name, value in self.params.items()}

    @property
    def label(self) -> str:
        """How the stage is named in tables: ``#2 GBTClassificationModel``."""
        return f"#{self.path} {self.short_class}"


def _parse_stages(entries: object, prefix: str = "") -> list[Stage]:
    """The stage entries of a ``model`` (or of a nested pipeline), depth first; entries that are not objects are
    skipped."""
    if not isinstance(entries, list):
        return []
    found: list[Stage] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        path = f"{prefix}{index}"
        params, defaults, uid = entry.get("params"), entry.get("defaults"), entry.get("uid")
        found.append(
            Stage(
                path=path,
                uid=_text(uid),
                class_name=str(entry.get("class", "?")),
                params=params if isinstance(params, dict) else {},
                defaults=frozenset(str(d) for d in defaults) if isinstance(defaults, list) else frozenset(),
                input_cols=_names(entry.get("input_cols")),
                output_cols=_names(entry.get("output_cols")),
            )
        )
        found += _parse_stages(entry.get("stages"), f"{path}.")
    return found


@dataclass(frozen=True)
class Column:
    """One column of the card's ``input_schema``."""

    name: str
    type: str | None
    nullable: bool = True

    def __str__(self) -> str:
        """``int``, ``string not null``; ``?`` where the type is not recorded."""
        return f"{self.type or '?'}{'' if self.nullable else ' not null'}"

    @classmethod
    def parse(cls, entry: object) -> Column | None:
        """A schema entry as a column, or ``None`` for one that has no name."""
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            return None
        return cls(entry["name"], _text(entry.get("type")), bool(entry.get("nullable", True)))


@dataclass(frozen=True)
class TrainingData:
    """The card's ``training_data``: what the model was trained on (``None`` where not recorded)."""

    rows: int | None = None
    schema: str | None = None
    fingerprint: str | None = None
    source: str | None = None
    table_version: int | None = None

    @classmethod
    def parse(cls, value: object) -> TrainingData | None:
        """The ``training_data`` object of a card; a value of the wrong type reads as not recorded."""
        if not isinstance(value, Mapping):
            return None
        return cls(
            rows=_whole(value.get("rows")),
            schema=_text(value.get("schema")),
            fingerprint=_text(value.get("fingerprint")),
            source=_text(value.get("source")),
            table_version=_whole(value.get("table_version")),
        )


@dataclass(frozen=True)
class CodeLineage:
    """The card's ``code``: the git commit the model was trained from, its remote (masked) and dirtiness."""

    commit: str
    remote: str | None = None
    dirty: bool | None = None

    @classmethod
    def parse(cls, value: object) -> CodeLineage | None:
        """The ``code`` object of a card, or ``None`` when it names no commit."""
        if not isinstance(value, Mapping) or not isinstance(value.get("commit"), str):
            return None
        dirty = value.get("dirty")
        return cls(value["commit"], _text(value.get("remote")), dirty if isinstance(dirty, bool) else None)


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
    signed: bool | None = None
    files: Mapping[str, str] | None = None
    portable: Mapping[str, Any] | None = None
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
        """A card for a deploy by this user on this host, created ``now`` (default: the time of the deploy, or
        ``SOURCE_DATE_EPOCH`` where it is set: :func:`registry._util.creation_time`)."""
        return cls(
            coordinate=coordinate,
            created=utc_stamp(now or creation_time()),
            deployed_by=actor(),
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

    def for_coordinate(
        self,
        coordinate: str,
        previous: str | None,
        *,
        signed: bool | None = None,
        files: Mapping[str, str] | None = None,
    ) -> ModelCard:
        """This card, stamped with the coordinate the deploy was assigned, whether it signs the files, and the
        SHA-256 of each file of the saved model (``files``; kept from this card when not given)."""
        files = dict(files) if files is not None else self.files
        return ModelCard(
            **{**asdict(self), "coordinate": coordinate, "previous": previous, "signed": signed, "files": files}
        )

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON data, in the schema's form (the keys added since schema 1 only when they hold a value,
        so a card without them is byte for byte what earlier releases wrote)."""
        data = asdict(self)
        data["labels"] = list(self.labels)
        for key in _ADDED_KEYS:
            if data.get(key) is None:
                del data[key]
        return data

    def to_json(self) -> bytes:
        """Stable, readable JSON (sorted keys), as stored in the jar and the sidecar."""
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> ModelCard:
        """Parse a card written by :meth:`to_json` (unknown keys of newer schemas are ignored)."""
        raw = json.loads(data)
        if not isinstance(raw, dict) or not isinstance(raw.get("coordinate"), str):
            raise InvalidInput("Not a model card: it has no coordinate.")
        known = cls.__dataclass_fields__  # looked up, not copied: a search parses a thousand cards
        values = {k: v for k, v in raw.items() if k in known}
        values["labels"] = tuple(values.get("labels", ()))
        return cls(**values)

    @cached_property
    def stages(self) -> tuple[Stage, ...]:
        """The stages of the model, nested pipelines flattened depth first; a malformed ``model`` gives fewer."""
        return tuple(_parse_stages(self.model.get("stages") if isinstance(self.model, Mapping) else None))

    @cached_property
    def features(self) -> tuple[str, ...]:
        """The columns the model reads from its input: read by a stage, produced by no earlier one, in order
        (:func:`registry.reads.model_reads`)."""
        return model_reads(self.model if isinstance(self.model, Mapping) else None)

    @cached_property
    def input_columns(self) -> tuple[Column, ...] | None:
        """The ``input_schema`` as columns (entries without a name skipped), or ``None`` when none is recorded."""
        if not isinstance(self.input_schema, list):
            return None
        return tuple(c for c in map(Column.parse, self.input_schema) if c is not None)

    @cached_property
    def training(self) -> TrainingData | None:
        """The ``training_data``, typed; ``None`` when none is recorded."""
        return TrainingData.parse(self.training_data)

    @cached_property
    def lineage(self) -> CodeLineage | None:
        """The ``code``, typed; ``None`` when no commit is recorded."""
        return CodeLineage.parse(self.code)


def stages(card: ModelCard) -> list[Stage]:
    """:attr:`ModelCard.stages` as a list (kept for callers of the function)."""
    return list(card.stages)


def features(card: ModelCard) -> tuple[str, ...]:
    """:attr:`ModelCard.features` (kept for callers of the function)."""
    return card.features
