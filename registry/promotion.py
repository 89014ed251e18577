"""The promotion record: what a promotion leaves beside the version in its target repository.

``churn-1.0.3-promotion.json``, with the usual checksum sidecars, written by :func:`registry.promote.promote`
and read by ``show``, ``catalog`` and the next promotion (which nests it as ``previous_promotion``)::

    {"schema": 1, "coordinate": "com.acme:churn:1.0.3", "promoted_at": "2024-05-01T12:00:00Z",
     "promoted_by": {"user": ..., "host": ...}, "source": "staging", "target": "releases",
     "files": {"churn-1.0.3.jar": "<sha512>", ...},
     "gates": [{"expression": "auc>0.8", "metric": "auc", "actual": 0.91, "passed": true}],
     "signatures": {"churn-1.0.3.jar": "<fingerprint of the key whose signature was accepted>", ...},
     "previous_promotion": the record the source repository held for the version, or null,
     "approval": {"approved_by": ..., "approved_at": ..., "comment": ...}}

``signatures`` is written only when a signature was checked (absent in records of unsigned versions), ``approval``
only when the promotion required one (:mod:`registry.approval`).

Beside ``maven-metadata.xml``, the artifact's promotion log ``maven-metadata.xml.promotions.json``
(:class:`PromotionLog`) names every version that has a promotion record in that repository
(``{"schema": 1, "versions": ["1.0.3", "1.2.7"]}``), merged by union like the yank log. Where it exists it is
complete, so a catalog or history reads the records of the versions it names and no other (most versions of an
artifact were never promoted into a given repository: each of those reads would be answered 404). An artifact
written before the log existed has none: then every version's record is asked for, as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from registry._util import parse_json, record_json
from registry.coordinates import Module
from registry.exceptions import InvalidInput
from registry.versions import Version

__all__ = ["CLASSIFIER", "LOG_NAME", "SCHEMA", "GateRecord", "PromotionLog", "PromotionRecord"]

#: The record's classifier: ``ARTIFACT-VERSION-promotion.json``.
CLASSIFIER = "promotion"
SCHEMA = 1
#: The artifact-level promotion log, beside ``maven-metadata.xml``.
LOG_NAME = "maven-metadata.xml.promotions.json"
#: How many earlier promotions (``previous_promotion``) are read.
_MAX_HOPS = 16


@dataclass(frozen=True)
class GateRecord:
    """One quality gate as checked at promotion time."""

    expression: str
    metric: str
    actual: float | None
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"expression": self.expression, "metric": self.metric, "actual": self.actual, "passed": self.passed}


@dataclass(frozen=True)
class PromotionRecord:
    """The record a promotion leaves in its target repository; see the module docstring for the schema."""

    coordinate: str
    promoted_at: str
    promoted_by: Mapping[str, str]
    source: str
    target: str
    files: Mapping[str, str] = field(default_factory=dict)
    gates: tuple[GateRecord, ...] = ()
    previous: PromotionRecord | None = None
    signatures: Mapping[str, str] = field(default_factory=dict)
    approval: Mapping[str, Any] | None = None
    schema: int = SCHEMA

    @classmethod
    def from_json(cls, data: bytes) -> PromotionRecord:
        """Parse a promotion record; :class:`InvalidInput` when it does not have the schema's shape."""
        raw = parse_json(data, "a promotion record")
        return cls._from_dict(raw, _MAX_HOPS)

    @classmethod
    def _from_dict(cls, raw: object, hops: int) -> PromotionRecord:
        if not isinstance(raw, dict):
            raise InvalidInput("Not a promotion record: not a JSON object.")
        text = {k: raw.get(k) for k in ("coordinate", "promoted_at", "source", "target")}
        wrong = sorted(k for k, v in text.items() if not isinstance(v, str))
        promoted_by, files, gates = raw.get("promoted_by", {}), raw.get("files", {}), raw.get("gates", [])
        if not isinstance(promoted_by, dict) or not isinstance(files, dict) or not isinstance(gates, list):
            wrong.append("promoted_by, files or gates")
        if wrong:
            raise InvalidInput(f"Not a promotion record: {', '.join(wrong)} missing or of the wrong type.")
        earlier = raw.get("previous_promotion")
        signatures = raw.get("signatures")
        return cls(
            coordinate=str(text["coordinate"]),
            promoted_at=str(text["promoted_at"]),
            promoted_by={str(k): str(v) for k, v in promoted_by.items()},
            source=str(text["source"]),
            target=str(text["target"]),
            files={str(k): str(v) for k, v in files.items()},
            gates=tuple(_gate(g) for g in gates),
            # Older hops are history: one that is unreadable (or absurdly deep) ends it, it does not void the record.
            previous=_earlier(earlier, hops - 1) if earlier is not None and hops > 1 else None,
            schema=raw["schema"] if isinstance(raw.get("schema"), int) else SCHEMA,
            signatures={str(k): str(v) for k, v in signatures.items()} if isinstance(signatures, dict) else {},
            approval=dict(raw["approval"]) if isinstance(raw.get("approval"), dict) else None,
        )

    @property
    def history(self) -> tuple[PromotionRecord, ...]:
        """This promotion and the ones before it (``previous_promotion``), newest first."""
        hops: list[PromotionRecord] = []
        current: PromotionRecord | None = self
        while current is not None:
            hops.append(current)
            current = current.previous
        return tuple(hops)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON data, in the schema's form."""
        signed = {"signatures": dict(self.signatures)} if self.signatures else {}
        approved = {"approval": dict(self.approval)} if self.approval else {}
        return {
            **signed,
            **approved,
            "schema": self.schema,
            "coordinate": self.coordinate,
            "promoted_at": self.promoted_at,
            "promoted_by": dict(self.promoted_by),
            "source": self.source,
            "target": self.target,
            "files": dict(self.files),
            "gates": [g.to_dict() for g in self.gates],
            "previous_promotion": self.previous.to_dict() if self.previous else None,
        }

    def to_json(self) -> bytes:
        """The record as stored: indented JSON with sorted keys."""
        return record_json(self.to_dict())


def _earlier(raw: object, hops: int) -> PromotionRecord | None:
    try:
        return PromotionRecord._from_dict(raw, hops)
    except InvalidInput:
        return None


def _gate(raw: object) -> GateRecord:
    if not isinstance(raw, dict):
        raise InvalidInput("Not a promotion record: a gate is not a JSON object.")
    actual = raw.get("actual")
    return GateRecord(
        expression=str(raw.get("expression", "")),
        metric=str(raw.get("metric", "")),
        actual=actual if isinstance(actual, (int, float)) and not isinstance(actual, bool) else None,
        passed=raw.get("passed") is True,
    )


@dataclass(frozen=True)
class PromotionLog:
    """The versions of an artifact that have a promotion record in one repository (a set: merged by union)."""

    versions: frozenset[str] = frozenset()

    @staticmethod
    def path(module: Module) -> str:
        """Where the artifact's promotion log is: beside its ``maven-metadata.xml``."""
        return f"{module.path}/{LOG_NAME}"

    @classmethod
    def parse(cls, data: bytes, source: str) -> PromotionLog:
        """Parse the log found at ``source`` (used only in messages); :class:`InvalidInput` when unreadable."""
        try:
            raw = json.loads(data)
            versions = raw.get("versions") if isinstance(raw, dict) else None
            if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
                raise InvalidInput("no list of versions")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidInput(f"{source} is not a readable promotion log ({exc}).") from None
        return cls(frozenset(versions))

    def merged(self, added: Iterable[str]) -> PromotionLog:
        """This log with ``added`` versions (a union: merging again changes nothing)."""
        return PromotionLog(self.versions | frozenset(added))

    def render(self) -> bytes:
        """The log as stored: the versions in version order, so the same set is always the same bytes."""
        return record_json({"schema": SCHEMA, "versions": sorted(self.versions, key=_version_order)})


def _version_order(text: str) -> tuple[int, Version | None, str]:
    version = Version.try_parse(text)
    return (0, version, "") if version is not None else (1, None, text)
