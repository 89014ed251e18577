"""Yanks: a release withdrawn from selection without deleting it, and the log that says which versions are yanked.

A yank (and an unyank, which restores the version) leaves two things in the repository it is made in:

* an immutable record beside the release, create-only with the usual checksum sidecars:
  ``churn-1.0.3-yank-1.json``, ``churn-1.0.3-unyank-1.json``, ``churn-1.0.3-yank-2.json``, ... (the ``N``-th yank
  of a version and the unyank that ends it share ``N``; :func:`record_classifier` builds the names)::

    {"schema": 1, "coordinate": "com.acme:churn:1.0.3", "action": "yank", "sequence": 1,
     "at": "2026-12-07T01:00:00Z", "by": {"user": ..., "host": ...}, "reason": "leaks the label"}

* the same event in the artifact's yank log, ``com/acme/churn/maven-metadata.xml.yanks.json`` beside
  ``maven-metadata.xml`` (:data:`LOG_NAME`), updated by read-modify-write like the metadata: a set of events,
  merged by union, so that concurrent writers converge. The log answers "which versions are yanked, by whom, why"
  in one small read. Its name starts with ``maven-metadata.xml`` because repositories that refuse overwrites
  (redeploy disabled) commonly still let the metadata files be rewritten, and this is metadata of the artifact.

A prune (:mod:`registry.prune`) leaves the same kind of record, ``churn-1.0.3-prune-1.json``, as the tombstone of
a version whose files are deleted (its POM stays: the build number is never reused), with ``listed_at``.

A yanked version leaves ``<versions>`` of ``maven-metadata.xml`` (so ``latest.release``, series, ranges and Ivy's
dynamic revisions skip it) while every file stays, so an exact coordinate still resolves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from registry._util import parse_json, record_json
from registry.exceptions import InvalidInput

__all__ = ["LOG_NAME", "PAST", "SCHEMA", "YankEvent", "YankLog", "is_record_name", "record_classifier"]

#: The artifact-level yank log, beside ``maven-metadata.xml``.
LOG_NAME = "maven-metadata.xml.yanks.json"
SCHEMA = 1
_ACTIONS = ("yank", "unyank", "prune")
#: What history calls each action.
PAST = {"yank": "yanked", "unyank": "unyanked", "prune": "pruned"}


def record_classifier(action: str, sequence: int) -> str:
    """The classifier of a yank or unyank record: ``yank-1`` gives ``churn-1.0.3-yank-1.json``."""
    if action not in _ACTIONS or sequence < 1:
        raise InvalidInput(f"Not a yank record: action {action!r}, sequence {sequence!r}.")
    return f"{action}-{sequence}"


def is_record_name(name: str, artifact: str, version: str) -> bool:
    """Whether ``name`` (a file in the version's folder, sidecars included) is a yank or unyank record, which is
    about the repository it is in and so is never copied by a promotion."""
    prefix = f"{artifact}-{version}-"
    if not name.startswith(prefix):
        return False
    action, _, rest = name[len(prefix) :].partition("-")
    number = rest.split(".", 1)[0]
    return action in _ACTIONS and number.isdigit() and rest.startswith(f"{number}.json")


@dataclass(frozen=True)
class YankEvent:
    """One yank or unyank of one version in one repository."""

    coordinate: str
    action: str
    sequence: int
    at: str
    by: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""
    #: A prune's tombstone keeps when the version was listed (its card is gone), so history stays true.
    listed_at: str = ""

    @property
    def version(self) -> str:
        return self.coordinate.rsplit(":", 1)[-1]

    @property
    def key(self) -> tuple[str, int, int]:
        """The order of a version's events: by sequence, the yank before its unyank."""
        return (self.version, self.sequence, _ACTIONS.index(self.action))

    @property
    def classifier(self) -> str:
        return record_classifier(self.action, self.sequence)

    @classmethod
    def from_dict(cls, raw: object) -> YankEvent:
        if not isinstance(raw, dict):
            raise InvalidInput("Not a yank record: not a JSON object.")
        text = {k: raw.get(k) for k in ("coordinate", "action", "at")}
        wrong = sorted(k for k, v in text.items() if not isinstance(v, str))
        sequence, by, reason = raw.get("sequence"), raw.get("by", {}), raw.get("reason", "")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
            wrong.append("sequence")
            sequence = 0
        if not isinstance(by, dict) or not isinstance(reason, str):
            wrong.append("by or reason")
            by, reason = {}, ""
        if wrong or raw.get("action") not in _ACTIONS:
            raise InvalidInput(f"Not a yank record: {', '.join(wrong) or 'action'} missing or of the wrong type.")
        return cls(
            coordinate=str(text["coordinate"]),
            action=str(text["action"]),
            sequence=sequence,
            at=str(text["at"]),
            by={str(k): str(v) for k, v in by.items()},
            reason=reason,
            listed_at=str(raw.get("listed_at") or ""),
        )

    @classmethod
    def from_json(cls, data: bytes) -> YankEvent:
        raw = parse_json(data, "a yank record")
        return cls.from_dict(raw)

    def to_dict(self) -> dict[str, Any]:
        listed = {"listed_at": self.listed_at} if self.listed_at else {}
        return {
            **listed,
            "schema": SCHEMA,
            "coordinate": self.coordinate,
            "action": self.action,
            "sequence": self.sequence,
            "at": self.at,
            "by": dict(self.by),
            "reason": self.reason,
        }

    def to_json(self) -> bytes:
        """The record as stored: indented JSON with sorted keys."""
        return record_json(self.to_dict())


@dataclass(frozen=True)
class YankLog:
    """Every yank and unyank of an artifact's versions in one repository, in order."""

    events: tuple[YankEvent, ...] = ()

    @classmethod
    def parse(cls, data: bytes, source: str) -> YankLog:
        """Parse the log found at ``source`` (used only in messages); :class:`InvalidInput` when unreadable."""
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
                raise InvalidInput("no list of events")
            return cls.of(YankEvent.from_dict(e) for e in raw["events"])
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidInput(f"{source} is not a readable yank log ({exc}).") from None

    @classmethod
    def of(cls, events: Iterable[YankEvent]) -> YankLog:
        """A log of ``events``: one per version, action and sequence (the first seen wins), in order."""
        unique: dict[tuple[str, int, int], YankEvent] = {}
        for event in events:
            unique.setdefault(event.key, event)
        return cls(tuple(unique[k] for k in sorted(unique, key=_order)))

    def merged(self, added: Iterable[YankEvent]) -> YankLog:
        """This log with ``added`` (a union: merging again changes nothing)."""
        return YankLog.of([*self.events, *added])

    def last(self, version: str) -> YankEvent | None:
        """The newest event of ``version``, or ``None``."""
        mine = [e for e in self.events if e.version == version]
        return mine[-1] if mine else None

    def yanked(self) -> dict[str, YankEvent]:
        """The versions yanked now (and not pruned), each with its yank."""
        latest: dict[str, YankEvent] = {}
        for event in self.events:
            latest[event.version] = event
        return {v: e for v, e in latest.items() if e.action == "yank"}

    def pruned(self) -> dict[str, YankEvent]:
        """The versions pruned, each with its tombstone."""
        return {e.version: e for e in self.events if e.action == "prune"}

    def render(self) -> bytes:
        data = {"schema": SCHEMA, "events": [e.to_dict() for e in self.events]}
        return record_json(data)


def _order(key: tuple[str, int, int]) -> tuple[tuple[int, ...], str, int, int]:
    version, sequence, action = key
    parts = tuple(int(p) for p in version.split(".") if p.isdigit())
    return (parts, version, sequence, action)
