"""An artifact's history as values: its events (deployed, promoted, yanked, unyanked), and which version
``latest.release`` answered at any instant.

A version is *live* in a repository from the moment it was listed there (its card's ``created`` where it was
deployed, its promotion record's ``promoted_at`` where it was promoted in) until it is yanked, and again from its
unyank. ``latest.release`` at an instant is the newest live version then (:func:`latest_at`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.exceptions import InvalidInput
from registry.versions import Version

__all__ = ["KINDS", "Event", "Listing", "latest_at", "parse_instant", "parse_stamp"]

#: The kinds of event, in the order they sort within one second.
KINDS = ("deployed", "promoted", "approved", "unyanked", "yanked", "pruned")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _from_iso(text: str) -> dt.datetime:
    """``datetime.fromisoformat``, with the ``Z`` zone that Python 3.10's does not read."""
    return dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)


def parse_instant(text: str) -> dt.datetime:
    """``--at``: an ISO 8601 date (``2026-03-03``: the end of that day, UTC) or a time with a zone
    (``2026-03-03T12:00:00Z``, ``2026-03-03T13:00+01:00``).

    :raises InvalidInput: anything else, a time without a zone included.
    """
    text = text.strip()
    try:
        if _DATE.fullmatch(text):
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time.max, dt.timezone.utc)
        moment = _from_iso(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        why = "it has no zone" if moment is not None else "it does not parse"
        raise InvalidInput(
            f"Invalid date {text!r} ({why}): give an ISO 8601 date such as 2026-03-03 (the end of that day, UTC) "
            "or a time with a zone such as 2026-03-03T12:00:00Z or 2026-03-03T13:00:00+01:00."
        )
    return moment.astimezone(dt.timezone.utc)


def parse_stamp(text: str) -> dt.datetime | None:
    """A time recorded in a card or record (``2026-12-07T01:00:00Z``), or ``None`` when it does not parse."""
    try:
        moment = _from_iso(text)
    except (ValueError, TypeError, AttributeError):
        return None
    return moment.astimezone(dt.timezone.utc) if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Event:
    """One thing that happened to one version in one repository."""

    at: str
    repository: str
    kind: str
    coordinate: str
    by: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def moment(self) -> dt.datetime:
        return parse_stamp(self.at) or dt.datetime.min.replace(tzinfo=dt.timezone.utc)

    @property
    def order(self) -> tuple[dt.datetime, int, str, str]:
        return (self.moment, KINDS.index(self.kind), self.coordinate, self.repository)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "repository": self.repository,
            "event": self.kind,
            "coordinate": self.coordinate,
            "by": dict(self.by),
            **dict(self.details),
        }


@dataclass(frozen=True)
class Listing:
    """When a version became selectable in a repository, and its yanks and unyanks there."""

    version: Version
    listed_at: dt.datetime
    changes: tuple[tuple[dt.datetime, bool], ...] = ()  # (when, yanked?) in order


def latest_at(listings: Iterable[Listing], moment: dt.datetime) -> Version | None:
    """The version ``latest.release`` answered at ``moment``: the newest one listed by then and not yanked then."""
    live: list[Version] = []
    for listing in listings:
        if listing.listed_at > moment:
            continue
        yanked = False
        for when, is_yank in listing.changes:
            if when <= moment:
                yanked = is_yank
        if not yanked:
            live.append(listing.version)
    return max(live, default=None)
