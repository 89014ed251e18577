"""Yanks in a repository (:mod:`registry.withdrawal`): the artifact's yank log, a yank or unyank record beside the
release, and :func:`unpublish`, which takes a version out of ``maven-metadata.xml`` and makes sure it stays out.

Order of writes, so that a crash at any point is finished by running the same command again: the record first
(create-only; one that exists already is the same event, kept as it is), then the log (a union of events), then
the metadata (a yank removes the version, an unyank lists it again through :func:`~registry.store.publish`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from registry._util import backoff
from registry.checksums import SIDECAR_SUFFIXES, digest_bytes
from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidInput, RepositoryUnavailable
from registry.metadata import Metadata
from registry.repository.base import PathExists, Repository
from registry.store.metadata import PUBLISH_DEADLINE, read_metadata
from registry.versions import Version
from registry.withdrawal import LOG_NAME, YankEvent, YankLog, record_classifier

__all__ = ["log_path", "pruned_leftovers", "read_yanks", "record_yank", "unpublish"]


def log_path(module: Module) -> str:
    """Where the artifact's yank log is: beside its ``maven-metadata.xml``."""
    return f"{module.path}/{LOG_NAME}"


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

    _until(repository, module, lambda: event in read_yanks(repository, module).events, add, log_path(module))
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

    _until(repository, module, done, remove, module.metadata_path)


def _parsed(data: bytes, source: str) -> YankLog:
    try:
        return YankLog.parse(data, source)
    except InvalidInput as exc:
        raise IntegrityError(f"{exc} Nothing was changed; ask the repository owner to check it.") from None


def _until(
    repository: Repository,
    module: Module,
    done: Callable[[], bool],
    change: Callable[[bytes | None], bytes],
    path: str,
) -> None:
    """Apply ``change`` to ``path`` until ``done()`` holds, with backoff, for at most :data:`PUBLISH_DEADLINE`."""
    deadline = time.monotonic() + PUBLISH_DEADLINE
    attempt = 0
    while True:
        attempt += 1
        repository.update(path, change)
        if done():
            return
        if time.monotonic() > deadline:
            raise RepositoryUnavailable(
                f"{path} in {repository.display} kept losing our update to concurrent writers. Run the same "
                f"command again, or 'registry fsck {module} --repair'."
            )
        backoff(attempt)


def pruned_leftovers(repository: Repository, coordinate: Coordinate) -> list[str]:
    """The files of a pruned version still to delete, its jar (and the jar's sidecars) first: all but the POM
    (the claim), the tombstone and their sidecars."""
    pom = coordinate.file_name("pom")
    tombstone = coordinate.file_name("json", record_classifier("prune", 1))
    kept = {pom, tombstone, *(f"{n}{s}" for n in (pom, tombstone) for s in SIDECAR_SUFFIXES)}
    names = [n for n in repository.list(coordinate.directory) if not n.endswith("/") and n not in kept]
    jar = coordinate.file_name("jar")
    return sorted(names, key=lambda n: (not n.startswith(jar), n))
