"""The promotion log of an artifact (:class:`~registry.promotion.PromotionLog`): which versions have a promotion
record in a repository, so that a catalog or history reads only the records that exist.

A promotion writes its record first (create-only), then adds the version to the log (:func:`log_promotion`, a
union merged until it holds), then lists the version: a crash at any point is finished by promoting again. The
first promotion into an artifact that has versions but no log (written before the log existed) seeds it with every
record that exists, so no earlier promotion is hidden. A publish whose caller found no metadata writes the empty
log where there is none (:func:`~registry.store.publish`, ``first``); ``fsck --repair`` writes one that is missing
or incomplete (:func:`repair_promotion_log`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidInput
from registry.promotion import CLASSIFIER, PromotionLog
from registry.repository.base import Repository
from registry.store.metadata import read_metadata, update_until
from registry.store.yanks import read_yanks
from registry.versions import Version

__all__ = ["log_promotion", "read_promotion_log", "repair_promotion_log"]


def read_promotion_log(repository: Repository, module: Module) -> PromotionLog | None:
    """The artifact's promotion log, or ``None`` where it has none (an artifact written before the log existed:
    then any version may have a record). One small read, never cached: the log changes.

    :raises IntegrityError: the log is not readable.
    """
    path = PromotionLog.path(module)
    try:
        data = repository.read(path)
    except ArtifactNotFound:
        return None
    return _parsed(data, module, f"{path} in {repository.display}")


def log_promotion(repository: Repository, coordinate: Coordinate) -> None:
    """Add the version to its artifact's promotion log (its record is in place), until the log holds it. Where
    the artifact has versions but no log yet, the log is seeded with every version whose record exists."""
    module, version = coordinate.module, str(coordinate.version)
    found = read_promotion_log(repository, module)
    seed = _promoted_here(repository, module, _known_versions(repository, module)) if found is None else set()
    _log_versions(repository, module, {*seed, version})


def _log_versions(repository: Repository, module: Module, versions: Collection[str]) -> None:
    """Merge ``versions`` into the artifact's promotion log (created if absent) until it holds them all."""
    path = PromotionLog.path(module)
    source = f"{path} in {repository.display}"

    def add(current: bytes | None) -> bytes:
        log = PromotionLog() if current is None else _parsed(current, module, source)
        return log.merged(versions).render()

    def done() -> bool:
        log = read_promotion_log(repository, module)
        return log is not None and log.versions >= set(versions)

    update_until(repository, module, path, add, done)


def _promoted_here(repository: Repository, module: Module, versions: Iterable[str]) -> set[str]:
    """Those of ``versions`` that have a promotion record in ``repository``: one read each, all at once."""
    wanted = sorted({parsed for parsed in map(Version.try_parse, versions) if parsed is not None})
    paths = [module.at(v).path("json", CLASSIFIER) for v in wanted]
    return {str(v) for v, data in zip(wanted, repository.read_files(paths), strict=True) if data is not None}


def repair_promotion_log(repository: Repository, module: Module, versions: Collection[str]) -> None:
    """Write the artifact's promotion log so that it names ``versions`` (those found with a record): merged into
    the log where it is readable, written anew where it is not."""
    path = PromotionLog.path(module)
    try:
        read_promotion_log(repository, module)
    except IntegrityError:
        repository.update(path, lambda _: PromotionLog(frozenset(versions)).render())
    _log_versions(repository, module, versions)


def _known_versions(repository: Repository, module: Module) -> set[str]:
    """Every version of the artifact that can carry a record: listed, or taken out by a yank or a prune."""
    metadata = read_metadata(repository, module)
    listed = set(metadata.versions) if metadata is not None else set()
    return listed | {event.version for event in read_yanks(repository, module).events}


def _parsed(data: bytes, module: Module, source: str) -> PromotionLog:
    try:
        return PromotionLog.parse(data, source)
    except InvalidInput as exc:
        raise IntegrityError(f"{exc} Run 'registry fsck {module} --repair' to rebuild it.") from None
