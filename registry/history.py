"""History: an artifact's timeline across repositories, and what ``latest.release`` answered at any instant.

Read from what the repository already keeps, nothing else: each version's card (deployed: who, when, commit,
training data), its promotion record in each repository (promoted: from, to, who, gates, signatures, approver),
and the
artifact's yank log (yanked and unyanked: who, why). Yanked versions are read too, though not listed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound
from registry.repository.base import Repository
from registry.settings import Settings, using_repository
from registry.store import Cache, VersionCard, read_history, read_listings_ahead, read_metadata, read_yanks
from registry.timeline import Event, Listing, latest_at, parse_stamp
from registry.versions import Version
from registry.withdrawal import PAST, YankLog

__all__ = ["Timeline", "history"]


@dataclass(frozen=True)
class Timeline:
    """Every event of an artifact, oldest first; with ``at``, the answer of ``latest.release`` in
    ``repository`` at that instant (``latest``: ``None`` before the first release), and only the events until then.
    """

    module: Module
    events: tuple[Event, ...]
    at: dt.datetime | None = None
    repository: str | None = None
    latest: Coordinate | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"artifact": str(self.module), "events": [e.to_dict() for e in self.events]}
        if self.at is not None:
            data["at"] = self.at.isoformat().replace("+00:00", "Z")
            data["repository"] = self.repository
            data["latest.release"] = str(self.latest) if self.latest else None
        return data


def history(
    module: Module | str,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    at: dt.datetime | None = None,
) -> Timeline:
    """The timeline of ``module`` in ``repository``, or (``None``) in every configured repository and the default.

    :param at: also answer what ``latest.release`` resolved to at that instant, in ``repository`` (or the
        default), and keep only the events until then.
    :raises ArtifactNotFound: no repository holds the artifact.
    """
    module = module if isinstance(module, Module) else Module.parse(module)
    settings = settings or Settings.load()
    specs: Sequence[Repository | str | None]
    asked: Repository | str | None  # where --at is answered: the repository given, else the default
    if repository is not None:
        specs, asked = [repository], repository
    else:
        names = sorted(settings.repositories)
        default = settings.repository(None).name
        specs, asked = ([default], default) if default in names else ([None], None)
        specs = [*specs, *(name for name in names if name != default)]
    events: list[Event] = []
    answer: tuple[str, list[Listing]] = ("", [])
    found = False
    for spec in specs:
        with using_repository(spec, settings) as (repo, active):
            mine, listings, present = _read(repo, module, Cache(active.cache_dir))
            found = found or present
            events += mine
            if spec is asked:
                answer = (repo.display, listings)
    if not found:
        where = "any configured repository" if repository is None else "the repository"
        raise ArtifactNotFound(f"{module} has no history in {where}: check the group and artifact, or -r.")
    events.sort(key=lambda e: e.order)
    if at is None:
        return Timeline(module, tuple(events))
    display, listings = answer
    chosen = latest_at(listings, at)
    kept = tuple(e for e in events if e.moment <= at)
    return Timeline(module, kept, at, display, module.at(chosen) if chosen else None)


def _read(repository: Repository, module: Module, cache: Cache) -> tuple[list[Event], list[Listing], bool]:
    """The events of ``module`` in ``repository``, when each version was listed there, and whether it is there."""
    read_listings_ahead(repository, [module], promotions=True)
    metadata = read_metadata(repository, module)
    yanks = read_yanks(repository, module)
    if metadata is None and not yanks.events:
        return [], [], False
    listed = set(metadata.releases) if metadata else set()
    records = []
    if metadata is not None:  # the metadata just read names the versions: it is not read again
        records = list(
            read_history(module, repository, cache=cache, promotions=True, versions=listed, listed=True).cards
        )
    withdrawn = [v for v in map(Version.try_parse, yanks.yanked()) if v is not None and v not in listed]
    if withdrawn:
        unlisted = read_history(module, repository, cache=cache, promotions=True, versions=sorted(set(withdrawn)))
        records += unlisted.cards
    events: list[Event] = []
    listings: list[Listing] = []
    for record in records:
        events += _version_events(repository, record)
        listed_at = record.promotion.promoted_at if record.promotion else record.card.created
        moment = parse_stamp(listed_at)
        if moment is not None:
            changes = _changes(yanks, str(record.coordinate.version))
            listings.append(Listing(record.coordinate.version, moment, changes))
    known = {r.coordinate.version for r in records}
    for version, tombstone in yanks.pruned().items():  # its card is gone: the tombstone says when it was listed
        parsed, moment = Version.try_parse(version), parse_stamp(tombstone.listed_at)
        if parsed is not None and parsed not in known and moment is not None:
            listings.append(Listing(parsed, moment, _changes(yanks, version)))
    for event in yanks.events:
        details = {"reason": event.reason} if event.action != "unyank" else {}
        events.append(Event(event.at, repository.display, PAST[event.action], event.coordinate, event.by, details))
    return events, listings, True


def _changes(yanks: YankLog, version: str) -> tuple[tuple[dt.datetime, bool], ...]:
    changes = []
    for event in yanks.events:
        moment = parse_stamp(event.at)
        if event.version == version and moment is not None:
            changes.append((moment, event.action != "unyank"))  # a yank, or a prune (for good)
    return tuple(changes)


def _version_events(repository: Repository, record: VersionCard) -> list[Event]:
    card, promotion = record.card, record.promotion
    coordinate = str(record.coordinate)
    if promotion is None:
        details: dict[str, Any] = {"code": dict(card.code) if card.code else None}
        details["training_data"] = dict(card.training_data) if card.training_data else None
        details["signed"] = card.signed  # whether the deploy signed its files (the signer: 'registry verify')
        return [Event(card.created, repository.display, "deployed", coordinate, card.deployed_by, details)]
    promoted: dict[str, Any] = {
        "from": promotion.source,
        "to": promotion.target,
        "gates": [g.to_dict() for g in promotion.gates],
    }
    if promotion.signatures:
        promoted["signatures"] = dict(promotion.signatures)
    if promotion.approval:
        promoted["approval"] = dict(promotion.approval)
    return [Event(promotion.promoted_at, repository.display, "promoted", coordinate, promotion.promoted_by, promoted)]
