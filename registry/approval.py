"""The approval record: a second person's consent to promote a version into one target repository.

``churn-1.0.3-approval-<KEY>.json`` beside the release in the repository it is promoted *from*, where ``KEY``
names the target (:func:`approval_classifier`), create-only with the usual checksum sidecars::

    {"schema": 1, "coordinate": "com.acme:churn:1.0.3", "target": "releases (https://...)",
     "approved_at": "2026-12-07T01:00:00Z", "approved_by": {"user": ..., "host": ...}, "comment": "...",
     "key": "3BE7..."}

``key`` (only where the approver signs) is the full fingerprint of the OpenPGP key whose detached signature
(``...-approval-<KEY>.json.asc``) sits beside the record; ``promote`` judges that signature under the target's
policy and refuses an approval signed by a key that also signed the release (self-approval).

Written by ``registry approve``, required by ``promote`` where the target sets ``require_approval = true`` or the
promotion asks for the gate ``approved``, and named in the promotion record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from registry._util import parse_json, record_json
from registry.exceptions import InvalidInput

__all__ = ["APPROVED_GATE", "ApprovalRecord", "approval_classifier", "is_approval_name"]

#: The gate that asks one promotion for an approval: ``promote --require approved``.
APPROVED_GATE = "approved"
_PREFIX = "approval-"


def approval_classifier(target: str) -> str:
    """The classifier of the approval to promote into ``target`` (its origin URL, else its display name)."""
    return _PREFIX + hashlib.sha256(target.encode()).hexdigest()[:16]


def is_approval_name(name: str, artifact: str, version: str) -> bool:
    """Whether ``name`` (sidecars included) is an approval record of the version, which promotions never copy."""
    return name.startswith(f"{artifact}-{version}-{_PREFIX}")


@dataclass(frozen=True)
class ApprovalRecord:
    """Who approved promoting a version into one target, when, and what they said."""

    coordinate: str
    target: str
    approved_at: str
    approved_by: Mapping[str, str] = field(default_factory=dict)
    comment: str = ""
    key: str | None = None  # the fingerprint of the key that signed the approval, where the approver signs

    @classmethod
    def from_json(cls, data: bytes) -> ApprovalRecord:
        """Parse a record; :class:`InvalidInput` when it does not have the schema's shape."""
        raw = parse_json(data, "an approval record")
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: object) -> ApprovalRecord:
        if not isinstance(raw, dict):
            raise InvalidInput("Not an approval record: not a JSON object.")
        text = {k: raw.get(k) for k in ("coordinate", "target", "approved_at")}
        by, comment, key = raw.get("approved_by"), raw.get("comment", ""), raw.get("key")
        if any(not isinstance(v, str) for v in text.values()) or not isinstance(by, dict):
            raise InvalidInput("Not an approval record: coordinate, target, approved_at or approved_by is missing.")
        return cls(
            coordinate=str(text["coordinate"]),
            target=str(text["target"]),
            approved_at=str(text["approved_at"]),
            approved_by={str(k): str(v) for k, v in by.items()},
            comment=comment if isinstance(comment, str) else "",
            key=key if isinstance(key, str) and key else None,
        )

    def to_dict(self) -> dict[str, Any]:
        record = {"schema": 1, **asdict(self)}
        if not self.key:  # only a signed approval names its key
            del record["key"]
        return record

    def to_json(self) -> bytes:
        return record_json(self.to_dict())
