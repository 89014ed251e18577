"""Yank and unyank: withdraw a release from selection in one repository without deleting it, and restore it.

A yanked version leaves ``maven-metadata.xml`` (so ``latest.release``, ``1.2``, ``1.2.+``, ranges and Ivy's
dynamic revisions skip it) while every file stays: an exact coordinate still resolves, with one warning naming the
reason, so old scores can be reproduced. Who yanked it, when and why is recorded beside the release and in the
artifact's yank log (:mod:`registry.withdrawal`); ``show``, ``versions``, ``fsck`` and ``history`` read them.
Running either command again after a crash finishes what the first run started.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry._util import actor, utc_stamp
from registry.coordinates import Coordinate, parse_request
from registry.events import emit
from registry.exceptions import ArtifactNotFound, InvalidInput
from registry.repository.base import Repository
from registry.settings import Settings, using_repository
from registry.store import publish, read_metadata, read_yanks, record_yank, unpublish
from registry.withdrawal import YankEvent

__all__ = ["Yanked", "unyank", "yank"]


def _exact(spec: str | Coordinate, command: str) -> Coordinate:
    if isinstance(spec, Coordinate):
        return spec
    module, selector = parse_request(spec)
    if selector.exact is None:
        raise InvalidInput(
            f"{command} takes an exact version (GROUP:ARTIFACT:MAJOR.MINOR.BUILD), not the selector {str(selector)!r}: "
            f"find it with 'registry versions {module}'."
        )
    return module.at(selector.exact)


@dataclass(frozen=True)
class Yanked:
    """What a yank or unyank did: the event recorded, in which repository."""

    coordinate: Coordinate
    event: YankEvent
    repository: str


def yank(
    spec: str | Coordinate,
    *,
    reason: str,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
) -> Yanked:
    """Withdraw the released version ``spec`` from selection in ``repository``; every file stays.

    :param spec: ``GROUP:ARTIFACT:MAJOR.MINOR.BUILD``.
    :param reason: why (required; recorded and shown with every warning).
    :raises InvalidInput: no reason, a selector instead of a version, or the version is yanked already.
    :raises ArtifactNotFound: the version is not released in the repository.
    """
    coordinate = _exact(spec, "yank")
    if not reason or not reason.strip():
        raise InvalidInput(
            f"Say why {coordinate} is yanked: --reason TEXT (it is recorded and shown). Nothing changed."
        )
    with using_repository(repository, settings) as (repo, _):
        log = read_yanks(repo, coordinate.module)
        last = log.last(str(coordinate.version))
        listed = _listed(repo, coordinate)
        if last is not None and last.action == "yank":
            if listed:  # an earlier yank died before its last step: finish it
                unpublish(repo, coordinate.module, [coordinate.version])
                return Yanked(coordinate, last, repo.display)
            raise InvalidInput(
                f"{coordinate} is already yanked in {repo.display} ({_described(last)}). Nothing changed."
            )
        if not listed:
            raise ArtifactNotFound(
                f"{coordinate} is not released in {repo.display}, so there is nothing to yank. Check the version "
                f"with 'registry versions {coordinate.module}' and the repository (-r). Nothing changed."
            )
        sequence = 1 + sum(e.action == "yank" for e in log.events if e.version == str(coordinate.version))
        event = YankEvent(str(coordinate), "yank", sequence, utc_stamp(), actor(), reason.strip())
        event = record_yank(repo, coordinate, event)
        unpublish(repo, coordinate.module, [coordinate.version])
        emit("yank", coordinate, repo.display, by=event.by, details={"reason": event.reason})
        return Yanked(coordinate, event, repo.display)


def unyank(
    spec: str | Coordinate, *, repository: Repository | str | None = None, settings: Settings | None = None
) -> Yanked:
    """List a yanked version again in ``repository``, so that selectors see it.

    :raises InvalidInput: the version is not yanked there (or a selector instead of a version).
    """
    coordinate = _exact(spec, "unyank")
    with using_repository(repository, settings) as (repo, _):
        log = read_yanks(repo, coordinate.module)
        last = log.last(str(coordinate.version))
        if last is None or last.action != "yank":
            if last is not None and not _listed(repo, coordinate) and repo.exists(coordinate.path("jar")):
                publish(repo, coordinate.module, [coordinate.version])  # an earlier unyank died before listing
                return Yanked(coordinate, last, repo.display)
            raise InvalidInput(
                f"{coordinate} is not yanked in {repo.display}, so there is nothing to unyank. Nothing changed."
            )
        event = YankEvent(str(coordinate), "unyank", last.sequence, utc_stamp(), actor(), "")
        event = record_yank(repo, coordinate, event)
        publish(repo, coordinate.module, [coordinate.version])
        emit("unyank", coordinate, repo.display, by=event.by)
        return Yanked(coordinate, event, repo.display)


def _listed(repository: Repository, coordinate: Coordinate) -> bool:
    metadata = read_metadata(repository, coordinate.module)
    return metadata is not None and str(coordinate.version) in metadata.versions


def _described(event: YankEvent) -> str:
    who = event.by.get("user", "unknown")
    return f"by {who} at {event.at}: {event.reason}"
