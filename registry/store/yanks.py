"""Yanks in a repository (:mod:`registry.withdrawal`): the artifact's yank log, a yank or unyank record beside the
release, and :func:`unpublish`, which takes a version out of ``maven-metadata.xml`` and makes sure it stays out.

Order of writes, so that a crash at any point is finished by running the same command again: the record first
(create-only; one that exists already is the same event, kept as it is), then the log (a union of events), then
the metadata (a yank removes the version, an unyank lists it again through :func:`~registry.store.publish`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Sequence

from registry.checksums import SIDECAR_SUFFIXES, digest_bytes
from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidInput
from registry.metadata import Metadata
from registry.pom import render_pom
from registry.promotion import PromotionLog
from registry.repository.base import PathExists, Repository
from registry.store.metadata import read_metadata, update_until
from registry.versions import Version
from registry.withdrawal import LOG_NAME, YankEvent, YankLog, record_classifier

__all__ = [
    "finish_prune", "log_path", "pruned_gone", "pruned_leftovers", "read_listings_ahead", "read_yanks", "record_yank",
    "unpublish",
]  # fmt: skip


def log_path(module: Module) -> str:
    """Where the artifact's yank log is: beside its ``maven-metadata.xml``."""
    return f"{module.path}/{LOG_NAME}"


def read_listings_ahead(repository: Repository, modules: Sequence[Module], *, promotions: bool = False) -> None:
    """Start reading each artifact's ``maven-metadata.xml`` and yank log at once (:meth:`Repository.read_ahead
    <registry.repository.base.Repository.read_ahead>`), for a command that reads them: one round trip, not two;
    with ``promotions`` (a command that shows promotions: catalog, history), its promotion log too."""
    paths = [[m.metadata_path, log_path(m), *([PromotionLog.path(m)] if promotions else [])] for m in modules]
    repository.read_ahead([path for listing in paths for path in listing])


def read_yanks(repository: Repository, module: Module) -> YankLog:
    """The artifact's yank log (empty when nothing was ever yanked); one small read.

    :raises IntegrityError: the log is not readable.
    """
    source = f"{log_path(module)} in {repository.display}"
    try:
        data = repository.read(log_path(module))
    except ArtifactNotFound:
        return YankLog()
    try:
        return YankLog.parse(data, source)
    except InvalidInput as exc:
        raise IntegrityError(f"{exc} Ask the repository owner to check it.") from None


def record_yank(repository: Repository, coordinate: Coordinate, event: YankEvent) -> YankEvent:
    """Write ``event``'s record beside the release (create-only), then merge it into the yank log until the log
    holds it. Returns the event as recorded: where the record exists already (an earlier run that crashed, or a
    concurrent one), that one."""
    path = coordinate.path("json", event.classifier)
    data = event.to_json()
    for extension, content in digest_bytes(data).sidecars():
        with contextlib.suppress(PathExists):  # the same event's: sidecars of equal records are equal
            repository.create(f"{path}.{extension}", content)
    try:
        repository.create(path, data)
    except PathExists:
        try:
            event = YankEvent.from_json(repository.read(path))
        except InvalidInput as exc:
            raise IntegrityError(f"{path} in {repository.display}: {exc}") from None
    module = coordinate.module
    source = f"{log_path(module)} in {repository.display}"

    def add(current: bytes | None) -> bytes:
        log = YankLog() if current is None else _parsed(current, source)
        return log.merged([event]).render()

    update_until(repository, module, log_path(module), add, lambda: event in read_yanks(repository, module).events)
    return event


def unpublish(repository: Repository, module: Module, versions: list[Version]) -> None:
    """Take ``versions`` out of the artifact's ``maven-metadata.xml`` and make sure they stay out: read back and
    removed again, like :func:`~registry.store.publish` adds, while a concurrent writer put one back."""
    source = f"{module.metadata_path} in {repository.display}"
    gone = {str(v) for v in versions}

    def remove(current: bytes | None) -> bytes:
        metadata = Metadata.parse(current, module, source) if current is not None else Metadata(module)
        return metadata.without_versions(versions).render()

    def done() -> bool:
        listed = read_metadata(repository, module)
        return not gone & set(listed.versions if listed else ())

    update_until(repository, module, module.metadata_path, remove, done)


def _parsed(data: bytes, source: str) -> YankLog:
    try:
        return YankLog.parse(data, source)
    except InvalidInput as exc:
        raise IntegrityError(f"{exc} Nothing was changed; ask the repository owner to check it.") from None


def pruned_leftovers(repository: Repository, coordinate: Coordinate, names: Collection[str] | None = None) -> list[str]:
    """The files of a pruned version still to delete, its jar (and the jar's sidecars) first: all but the POM
    (the claim), the tombstone and their sidecars. ``names``: the folder's files, where listed already."""
    pom, tombstone = _pruned_keeps(coordinate)
    kept = {pom, tombstone, *(f"{n}{s}" for n in (pom, tombstone) for s in SIDECAR_SUFFIXES)}
    listed = _names(repository, coordinate) if names is None else names
    jar = coordinate.file_name("jar")
    return sorted((n for n in listed if n not in kept), key=lambda n: (not n.startswith(jar), n))


def pruned_gone(coordinate: Coordinate, names: Collection[str]) -> list[str]:
    """What a finished prune leaves that is not among the folder's files ``names``: the tombstone, the POM (a
    prune on Nexus deletes the version's component whole, and writes them back after)."""
    return [n for n in reversed(_pruned_keeps(coordinate)) if n not in names]


def finish_prune(
    repository: Repository, coordinate: Coordinate, tombstone: YankEvent, delete: Callable[[Sequence[str]], None]
) -> list[str]:
    """Take a tombstoned version out of the metadata, delete its files with ``delete`` (what
    :meth:`~registry.repository.base.Repository.removal` gave), jar first, and write back what a finished prune
    leaves where it is gone: the tombstone (the same record, from the log) and a POM claiming the build (the
    original went with a Nexus component; its build number must never be reused). Safe to run again; returns what
    it wrote back."""
    unpublish(repository, coordinate.module, [coordinate.version])
    left = pruned_leftovers(repository, coordinate)
    if left:
        delete(left)
    gone = pruned_gone(coordinate, _names(repository, coordinate))
    pom_name, tombstone_name = _pruned_keeps(coordinate)
    if tombstone_name in gone:
        record_yank(repository, coordinate, tombstone)
    if pom_name in gone:
        pom = render_pom(coordinate, f"Spark ML model {coordinate}, pruned at {tombstone.at}: {tombstone.reason}")
        for extension, content in digest_bytes(pom).sidecars():  # sidecars first, as every file is written
            with contextlib.suppress(PathExists):
                repository.create(f"{coordinate.directory}/{pom_name}.{extension}", content)
        with contextlib.suppress(PathExists):
            repository.create(f"{coordinate.directory}/{pom_name}", pom)
    return gone


def _pruned_keeps(coordinate: Coordinate) -> tuple[str, str]:
    """The POM and the tombstone of a pruned version."""
    return coordinate.file_name("pom"), coordinate.file_name("json", record_classifier("prune", 1))


def _names(repository: Repository, coordinate: Coordinate) -> list[str]:
    return [n for n in repository.list(coordinate.directory) if not n.endswith("/")]
