"""What every repository offers: a handful of path-level operations on a maven2 tree.

The use cases (deploy, resolve, promote) speak only this interface, so the local file tree, Nexus and any
WebDAV server behave alike. Paths are relative, ``/``-separated, and come from :mod:`registry.coordinates`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from registry.exceptions import ArtifactNotFound, VersionExists

if TYPE_CHECKING:
    from registry.repository.config import Credentials, RepositoryConfig
    from registry.repository.growing import GrowingFile

__all__ = ["PathExists", "Repository", "Source"]

#: What ``create`` uploads: bytes in memory, or a file streamed from disk.
Source = bytes | Path

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class PathExists(VersionExists):
    """A create-only write found the path already taken."""

    def __init__(self, path: str, repository: str) -> None:
        super().__init__(f"{path} already exists in {repository}; releases are immutable.")
        self.path = path


class Repository(ABC):
    """A maven2 repository."""

    #: How the repository is named in messages: its configured name or its masked URL.
    display: str
    #: Where the repository is, without credentials (its base URL, or its folder as a ``file:`` URL): what caches
    #: key what it served by. ``None``: it cannot be told apart from others, so nothing it serves is indexed.
    origin: str | None = None
    #: The configuration it was opened from (:meth:`from_config`), if any: its signature policy and signing key.
    config: RepositoryConfig | None = None
    #: How many reads :meth:`read_many` runs at once: what the repository serves best (an HTTP repository: the
    #: connections it keeps open).
    read_width: int = 16
    #: How many files a deploy writes at once.
    write_width: int = 16

    @classmethod
    def from_config(
        cls, config: RepositoryConfig, credentials: Credentials | None = None, credential_help: str = ""
    ) -> Repository:
        """Open the repository ``config`` describes (how :func:`registry.settings.open_repository` opens it); every
        kind registered in :data:`registry.settings.BACKENDS` has it."""
        raise NotImplementedError(f"{cls.__name__} cannot be opened from a configuration")

    @abstractmethod
    def read(self, path: str) -> bytes:
        """The content of a small file; :class:`~registry.exceptions.ArtifactNotFound` when absent."""

    def read_many(self, read: Callable[[_Item], _Result], items: Sequence[_Item]) -> list[_Result]:
        """``read(item)`` of every item (paths, or reads of this repository to make), :attr:`read_width` at a time
        on threads, the results in the order of ``items``. Every read that started is waited for; the first failure
        (in that order) is then raised, and the reads not yet started are dropped. No thread starts for no item."""
        if not items:
            return []
        pool = ThreadPoolExecutor(min(self.read_width, len(items)))
        try:
            futures = [pool.submit(read, item) for item in items]
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def read_ahead(self, paths: Sequence[str]) -> None:
        """Start reading these small files now, for a :meth:`read` of each to come soon (a use case that knows what
        it will read first names it while it still has other work to do). Best effort: each answer serves the next
        read of its path, once; by default nothing is started."""
        del paths  # a repository whose reads cost no round trip has nothing to gain

    def read_files(self, paths: Sequence[str]) -> list[bytes | None]:
        """:meth:`read` of every path, all at once; ``None`` for a file that does not exist. By default on the
        threads of :meth:`read_many`; a repository that can ask for many files at once (HTTP/2) overrides it."""
        return self.read_many(self._read_or_none, paths)

    def read_files_as_ready(self, paths: Sequence[str]) -> Iterator[list[tuple[int, bytes | None]]]:
        """:meth:`read_files`, handed over in lists of ``(index in paths, content)`` as they come, so that a caller
        works on the first while the others travel; every index once. By default, one list once all have come."""
        if paths:
            yield list(enumerate(self.read_files(paths)))

    def _read_or_none(self, path: str) -> bytes | None:
        try:
            return self.read(path)
        except ArtifactNotFound:
            return None

    @abstractmethod
    def fetch(self, path: str, destination: Path) -> None:
        """Stream a file into ``destination``, written once, front to back (a resolve hashes and unpacks the bytes
        as they land: :func:`registry.store.following.fetch_hashed`); :class:`~registry.exceptions.ArtifactNotFound`
        when absent."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether a file exists."""

    @abstractmethod
    def claim(self, directory: str) -> bool:
        """Atomically reserve a new version directory: ``True`` if this call created it, ``False`` if it exists.

        Repositories that cannot create directories atomically return ``True`` and leave the claim to the
        create-only write of the version's first file.
        """

    @abstractmethod
    def create(self, path: str, source: Source) -> None:
        """Write a new file, atomically, failing with :class:`PathExists` if the path is taken."""

    def release(self, directory: str) -> None:  # noqa: B027 - only repositories that claim folders have one
        """Give back the version folder :meth:`claim` created, while nothing was written in it (a deploy refused
        after its claim), so that its build number is not retired for nothing. Where the claim is the version's
        first file, the caller deletes that file instead."""

    def claims_folders(self) -> bool:
        """Whether :meth:`claim` creates the version folder atomically, so that ``True`` from it is the claim
        itself (and the version's first file need not be written alone, before the others, to claim it)."""
        return False

    def create_after(self, path: str, source: Source, ready: Callable[[], None]) -> None:
        """:meth:`create` ``path`` so that it becomes visible only after ``ready()`` has returned; if ``ready``
        raises, ``path`` is not created and the exception propagates.

        The default waits for ``ready`` before it starts; the HTTP repository streams all but the end of the
        body meanwhile, so the bytes of a large file travel while the small ones it must follow are written.
        """
        ready()
        self.create(path, source)

    #: Whether :meth:`create_growing` uploads a file while it is written (else it waits for its end).
    uploads_while_written = False

    def create_growing(self, path: str, growing: GrowingFile, ready: Callable[[], None]) -> None:
        """:meth:`create_after` of the file ``growing.path`` while its writer still writes it (see
        :class:`~registry.repository.growing.GrowingFile`): the default waits for its end (raising
        :class:`~registry.repository.growing.Abandoned`, with nothing created, if the writer fails); the S3
        repository uploads its parts as they become final, and sends a file of one part once it is
        :meth:`~registry.repository.growing.GrowingFile.settle` d (its checksum files on their way), the end of its
        body held back until ``ready()`` has returned."""
        growing.wait()
        self.create_after(path, growing.path, ready)

    def begin_create(self, path: str, expected: int) -> None:  # noqa: B027 - optional hook
        """A file of about ``expected`` bytes will probably be created at ``path`` soon (a deploy's jar, on the build
        it is claiming): start, in the background, what its :meth:`create_growing` needs and nobody can see (on S3,
        its multipart upload). Whatever that create does not take is undone by :meth:`abandon_create`, which the
        caller always calls. Optional; nothing depends on it."""

    def abandon_create(self, path: str) -> None:  # noqa: B027 - optional hook
        """Undo what :meth:`begin_create` of ``path`` started, unless a create of ``path`` took it."""

    def prepare_writes(self) -> None:  # noqa: B027 - optional hook
        """Writes are coming: start what they need (finding out what the server can do, opening connections) in
        the background. Optional; nothing depends on it."""

    @abstractmethod
    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        """Read-modify-write a mutable file (``maven-metadata.xml``) and its checksum sidecars.

        ``change`` receives the current content (``None`` when absent) and returns the new content; it may be
        called again if another writer got there first. Returns the content written.
        """

    @abstractmethod
    def list(self, directory: str) -> list[str]:
        """Names in ``directory`` (``""`` is the root), sub-directories ending with ``/``; ``[]`` if absent."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove a file if it exists (used only to clean up after crashed deploys)."""

    def removal(self, directory: str) -> Callable[[Sequence[str]], None]:
        """How the files of one version's folder (``directory``: ``GROUP/ARTIFACT/VERSION``) are deleted by a
        prune, found out before anything is written: the returned function deletes the names it is given (in
        order) and leaves the folder's other files in place. Default: each file's own delete.

        :raises RegistryError: the server offers no way to delete them (then the prune writes nothing)."""

        def remove(names: Sequence[str]) -> None:
            for name in names:
                self.delete(f"{directory}/{name}")

        return remove

    def missing(self) -> bool:
        """Whether the repository itself does not exist (a local root that is no directory, a URL the server
        answers 404 for); ``False`` where that cannot be told apart from an empty repository. May cost a request:
        ask it only on the error path."""
        return False

    def modified(self, path: str) -> float | None:
        """When ``path`` was last written (seconds since the epoch), or ``None`` when the repository cannot say."""
        return None

    def leftovers(self, directory: str, names: tuple[str, ...]) -> tuple[str, ...]:
        """Hidden partial files that an interrupted write of one of ``names`` left in ``directory`` (listings hide
        them); ``()`` where interrupted writes leave nothing (the HTTP servers we know discard them)."""
        return ()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __str__(self) -> str:
        return self.display


class StreamingRepository(Repository):
    """A repository whose writes stream the body while ``ready`` is pending (HTTP, S3): :meth:`create` is
    :meth:`create_after` with nothing to wait for."""

    def create(self, path: str, source: Source) -> None:
        self.create_after(path, source, None)

    @abstractmethod
    def create_after(self, path: str, source: Source, ready: Callable[[], None] | None) -> None:
        """:meth:`Repository.create_after`; ``ready`` ``None``: a plain :meth:`Repository.create`."""
