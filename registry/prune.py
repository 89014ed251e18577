"""Prune: delete old releases from one repository, sparing what matters; a dry run unless ``apply``.

Never deleted: the version ``latest.release`` answers, a version promoted onward from this repository (a promotion
record in another configured repository names it as the source), the newest ``keep_last`` versions, versions
listed less than ``older_than`` ago, and (``keep_series``) the newest version of each ``MAJOR.MINOR``. Yanked
versions are not listed and so are left alone.

A pruned version leaves a tombstone (``churn-1.0.3-prune-1.json``, :mod:`registry.withdrawal`: who, when, why, and
when it was listed) and its POM (the claim: build numbers are never reused). Order, so that a crash leaves every
version whole or gone with its tombstone: the tombstone and the log first, then the version leaves the metadata,
then its jar is deleted (after which it is no release), then its other files. Deletion is what the server
offers (:meth:`~registry.repository.base.Repository.removal`): each file's ``DELETE`` (local trees, WebDAV, S3),
or on Nexus 3 its components REST API (the version's component deleted whole, its POM and tombstone written
back); a server that allows neither is refused before the tombstone is written. ``fsck`` reports a pruned version
as ``pruned``, and one a crash left half-deleted as ``prune-unfinished`` (``--repair`` deletes the rest); running
the same prune again finishes it too: a version the yank log says is pruned, left unlisted with files still there
(the server refused the deletion) or without its POM and tombstone (a prune on Nexus died between deleting the
component and writing them back), is one more ``delete`` decision, finished like the others.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from registry._util import actor, utc_stamp
from registry.coordinates import Coordinate, Module
from registry.events import emit
from registry.exceptions import ArtifactNotFound, InvalidInput
from registry.repository.base import Repository
from registry.settings import Settings, using_repository
from registry.store import (
    Cache,
    finish_prune,
    pruned_gone,
    pruned_leftovers,
    read_history,
    read_metadata,
    read_yanks,
    record_yank,
)
from registry.timeline import parse_stamp
from registry.trust import Opened, opening
from registry.versions import Version
from registry.withdrawal import YankEvent

__all__ = ["Decision", "prune", "remove_version"]


@dataclass(frozen=True)
class Decision:
    """What prune does (or would do) with one version, and why."""

    coordinate: Coordinate
    delete: bool
    reasons: tuple[str, ...]
    listed_at: str = ""

    def __str__(self) -> str:
        verb = "delete" if self.delete else "keep"
        return f"{verb} {self.coordinate.version}: {'; '.join(self.reasons)}"


def prune(
    module: Module | str,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    keep_last: int | None = None,
    older_than: dt.timedelta | None = None,
    keep_series: bool | None = None,
    apply: bool = False,
    now: dt.datetime | None = None,
) -> list[Decision]:
    """Decide, oldest first, which versions of ``module`` to delete from ``repository``; delete them with ``apply``.

    ``keep_last``, ``older_than`` and ``keep_series`` not given (``None``) come from the repository's configuration
    (``prune_keep_last``, ``prune_older_than_days``, ``prune_keep_series``), else 10, no age limit and ``True``.

    :raises InvalidInput: ``keep_last`` below 1. :raises ArtifactNotFound: the artifact has no released version.
    """
    if keep_last is not None and keep_last < 1:
        raise InvalidInput(f"--keep-last {keep_last}: keep at least 1 version (latest.release is always kept).")
    module = module if isinstance(module, Module) else Module.parse(module)
    settings = settings or Settings.load()
    now = now or dt.datetime.now(dt.timezone.utc)
    with opening(repository, settings) as opened:
        repo, active, config = opened.repository, opened.settings, opened.config
        if keep_last is None:
            keep_last = (config.prune_keep_last if config else None) or 10
        if older_than is None and config is not None and config.prune_older_than_days:
            older_than = dt.timedelta(days=config.prune_older_than_days)
        if keep_series is None:
            keep_series = config.prune_keep_series if config and config.prune_keep_series is not None else True
        metadata = read_metadata(repo, module)
        if metadata is None or not metadata.releases:
            raise ArtifactNotFound(f"{module} has no released versions in {repo.display}; nothing to prune.")
        cache = Cache(active.cache_dir)
        records = {r.coordinate.version: r for r in read_history(module, repo, cache=cache, promotions=True).cards}
        onward = _promoted_onward(module, opened, repository)
        releases = metadata.releases
        newest_of_series = {(v.major, v.minor): v for v in releases}
        decisions = []
        for index, version in enumerate(releases):
            record = records.get(version)
            listed_at = (record.promotion.promoted_at if record.promotion else record.card.created) if record else ""
            keep: list[str] = []
            if version == releases[-1]:
                keep.append("latest.release")
            if version in onward:
                keep.append(f"promoted onward to {onward[version]}")
            if index >= len(releases) - keep_last:
                keep.append(f"one of the newest {keep_last}")
            if keep_series and newest_of_series[(version.major, version.minor)] == version:
                keep.append(f"the newest of {version.major}.{version.minor}")
            moment = parse_stamp(listed_at)
            if older_than is not None and (moment is None or moment > now - older_than):
                keep.append(f"listed less than {older_than.days} days ago" if moment else "listed at an unknown time")
            why = tuple(keep) or (_old(older_than),)
            decisions.append(Decision(module.at(version), not keep, why, listed_at))
        decisions = sorted([*decisions, *_unfinished(repo, module, set(releases))], key=lambda d: d.coordinate.version)
        if apply:
            for decision in decisions:
                if decision.delete:
                    remove_version(repo, decision, now)
    return decisions


def _old(older_than: dt.timedelta | None) -> str:
    return (f"older than {older_than.days} days, " if older_than else "") + "outside every rule that keeps a version"


def _promoted_onward(module: Module, opened: Opened, asked: Repository | str | None) -> dict[Version, str]:
    """Versions that another configured repository holds by a promotion from ``opened``'s, with where they went."""
    onward: dict[Version, str] = {}
    repo, settings, url = opened.repository, opened.settings, opened.config.url if opened.config else None
    for name in sorted(settings.repositories):
        if name == asked or settings.repositories[name].url == url:
            continue
        with using_repository(name, settings) as (other, active):
            if read_metadata(other, module) is None:
                continue
            for record in read_history(module, other, cache=Cache(active.cache_dir), promotions=True).cards:
                hops = record.promotion.history if record.promotion else ()
                if any(hop.source == repo.display for hop in hops):
                    onward[record.coordinate.version] = other.display
    return onward


def _unfinished(repo: Repository, module: Module, listed: set[Version]) -> list[Decision]:
    """The versions pruned before (by the yank log) and not listed whose prune did not finish: files left, or
    the POM or tombstone gone. One listing of each pruned version's folder, :attr:`read_width` at a time."""
    pruned = [(Version.parse(v), e) for v, e in read_yanks(repo, module).pruned().items()]
    candidates = [(v, e) for v, e in pruned if v not in listed]

    def state(item: tuple[Version, YankEvent]) -> Decision | None:
        coordinate = module.at(item[0])
        names = [n for n in repo.list(coordinate.directory) if not n.endswith("/")]
        left, gone = pruned_leftovers(repo, coordinate, names), pruned_gone(coordinate, names)
        if not left and not gone:
            return None
        what = f"{len(left)} file(s) left" if left else f"{' and '.join(gone)} gone"
        why = f"pruned at {item[1].at} ({item[1].reason}), unfinished: {what}"
        return Decision(coordinate, True, (why,), item[1].listed_at)

    return [d for d in repo.read_many(state, candidates) if d is not None]


def remove_version(repository: Repository, decision: Decision, now: dt.datetime) -> None:
    """Tombstone, unlist and delete one version (its POM and the tombstone stay); safe to run again."""
    coordinate = decision.coordinate
    delete = repository.removal(coordinate.directory)  # refused here, before anything is written
    log = read_yanks(repository, coordinate.module)
    tombstone = log.pruned().get(str(coordinate.version))
    if tombstone is None:
        reason = "; ".join(decision.reasons)
        event = YankEvent(str(coordinate), "prune", 1, utc_stamp(now), actor(), reason, decision.listed_at)
        tombstone = record_yank(repository, coordinate, event)
    finish_prune(repository, coordinate, tombstone, delete)
    emit("prune", coordinate, repository.display, by=tombstone.by, details={"reason": tombstone.reason})
