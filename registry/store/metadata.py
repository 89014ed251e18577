"""An artifact's ``maven-metadata.xml``: which versions are released, which one a selector picks, and
:func:`publish`, which lists versions there (always the last write of a release) and makes sure they stay listed;
:func:`update_until`, the read-modify-write of every mutable file beside it (the metadata, the yank and promotion
logs)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

from registry._util import backoff
from registry.coordinates import Coordinate, Module, parse_request
from registry.exceptions import ArtifactNotFound, IntegrityError, RepositoryUnavailable
from registry.metadata import Metadata
from registry.promotion import PromotionLog
from registry.repository.base import Repository
from registry.repository.names import never_released
from registry.versions import Selector, Version

__all__ = [
    "PUBLISH_DEADLINE", "is_listed", "list_versions", "publish", "read_metadata", "select", "select_version",
    "update_until",
]  # fmt: skip

#: How long :func:`publish` keeps merging its versions back in on a server that loses concurrent updates.
PUBLISH_DEADLINE = 120.0


def read_metadata(repository: Repository, module: Module) -> Metadata | None:
    """The artifact's metadata, or ``None`` when it has none yet. Any other failure is raised, never guessed.

    A server that rewrites the file in place (Apache mod_dav) can hand a reader a torn copy while a deploy writes
    it, so an unreadable copy is read again twice, after 50 and 200 ms, before it counts as broken.
    """
    for pause in (0.05, 0.2, None):
        try:
            data = repository.read(module.metadata_path)
        except ArtifactNotFound:
            return None
        try:
            return Metadata.parse(data, module, f"{module.metadata_path} in {repository.display}")
        except IntegrityError:
            if pause is None:
                raise
            time.sleep(pause)
    raise AssertionError("unreachable")


def list_versions(module: Module | str, repository: Repository) -> list[Version]:
    """The released versions of ``module``, oldest first (versions other tools wrote are left out)."""
    module = module if isinstance(module, Module) else Module.parse(module)
    metadata = read_metadata(repository, module)
    return metadata.releases if metadata else []


def is_listed(repository: Repository, coordinate: Coordinate) -> bool:
    """Whether ``maven-metadata.xml`` lists the version (so that ``latest.release`` and Ivy can see it)."""
    metadata = read_metadata(repository, coordinate.module)
    return metadata is not None and str(coordinate.version) in metadata.versions


def select_version(module: Module, selector: Selector, repository: Repository) -> Coordinate:
    """The newest version of ``module`` that ``selector`` accepts; one metadata read for a dynamic selector,
    none for an exact version."""
    exact = selector.exact
    if exact is not None:
        return module.at(exact)
    metadata = read_metadata(repository, module)
    if metadata is None or not metadata.releases:
        raise never_released(repository, module)
    chosen = selector.select(metadata.releases)
    if chosen is None:
        available = ", ".join(map(str, metadata.releases[-5:]))
        raise ArtifactNotFound(
            f"No version of {module} matches {str(selector)!r} in {repository.display}; the newest are: {available}."
        )
    return module.at(chosen)


def select(spec: str | Coordinate, repository: Repository, module: Module | None = None) -> Coordinate:
    """The coordinate ``spec`` names: a coordinate, ``GROUP:ARTIFACT:SELECTOR``, or (with ``module``) a bare
    selector such as ``1.0.3`` or ``latest.release`` of that artifact."""
    if isinstance(spec, Coordinate):
        return spec
    if module is not None and ":" not in spec:
        return select_version(module, Selector.parse(spec), repository)
    request_module, selector = parse_request(spec)
    return select_version(request_module, selector, repository)


def publish(
    repository: Repository,
    module: Module,
    versions: Sequence[Version],
    *,
    ready: Callable[[], None] | None = None,
    first: bool = False,
) -> None:
    """List ``versions`` in the artifact's ``maven-metadata.xml``, and make sure they stay listed.

    A metadata update is a union of versions, so it can always be merged again: where the server cannot make the
    read-modify-write atomic (nginx honours neither ``If-Match`` nor ``LOCK``), a concurrent writer may overwrite
    ours. The result is read back, and while any of ``versions`` is missing the update is made again, with
    jittered backoff, until they are listed or :data:`PUBLISH_DEADLINE` passes.

    ``ready``: called once the metadata is read (and locked, where the repository locks it), before it is
    written: it waits for the versions' files to be in place and raises if they are not, and then nothing is
    written. So the lock and the read overlap the end of an upload.

    ``first``: the caller found no ``maven-metadata.xml`` (the artifact's first version): the artifact's empty
    promotion log (:class:`~registry.promotion.PromotionLog`) is written first where it is absent (an update that
    keeps any log there: a promotion's, which a create on a server without atomic creates could overwrite), so a
    catalog of a new artifact reads no record that does not exist. Not inside the metadata's read-modify-write: a
    request there would widen the window in which several first writers all find no metadata and race to create
    it. A publish into an existing artifact writes nothing more.
    """
    source = f"{module.metadata_path} in {repository.display}"
    wanted = {str(v) for v in versions}

    def add(current: bytes | None) -> bytes:
        if ready is not None:
            ready()
        metadata = Metadata.parse(current, module, source) if current is not None else Metadata(module)
        return metadata.with_versions(versions).render()

    if first:  # an update, not a create: on a server whose create is a check then a write (nginx), a promotion
        # logged in between would be overwritten; an update that finds a log there writes nothing
        with contextlib.suppress(_LogPresent):
            repository.update(PromotionLog.path(module), _empty_log_unless_present)
    missing = wanted

    def done() -> bool:
        nonlocal missing
        listed = read_metadata(repository, module)
        missing = wanted - set(listed.versions if listed else ())
        return not missing

    def gave_up() -> str:
        return (
            f"{module}:{', '.join(sorted(missing))} was uploaded to {repository.display}, but its "
            "maven-metadata.xml kept losing it to concurrent writers, so latest.release and Ivy cannot see it. "
            f"Run 'registry fsck {module} --repair' to list it, or deploy again."
        )

    update_until(repository, module, module.metadata_path, add, done, gave_up)


class _LogPresent(Exception):
    """The artifact has a promotion log already: the first publish's update of it writes nothing."""


def _empty_log_unless_present(current: bytes | None) -> bytes:
    if current is not None:
        raise _LogPresent
    return PromotionLog().render()


def update_until(
    repository: Repository,
    module: Module,
    path: str,
    change: Callable[[bytes | None], bytes],
    done: Callable[[], bool],
    gave_up: Callable[[], str] | None = None,
) -> None:
    """Apply ``change`` to the mutable file ``path`` (:meth:`Repository.update
    <registry.repository.base.Repository.update>`) until ``done()`` holds, with jittered backoff, for at most
    :data:`PUBLISH_DEADLINE`: a union merged again is harmless, and a server that cannot make the read-modify-write
    atomic may let a concurrent writer overwrite ours. ``gave_up``: the message of the
    :class:`RepositoryUnavailable` raised then (by default: run the same command again, or fsck).
    """
    deadline = time.monotonic() + PUBLISH_DEADLINE
    attempt = 0
    while True:
        attempt += 1
        repository.update(path, change)
        if done():
            return
        if time.monotonic() > deadline:
            raise RepositoryUnavailable(
                gave_up()
                if gave_up is not None
                else f"{path} in {repository.display} kept losing our update to concurrent writers. Run the same "
                f"command again, or 'registry fsck {module} --repair'."
            )
        backoff(attempt)
