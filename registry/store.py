"""The maven2 operations every use case shares, over any :class:`~registry.repository.base.Repository`.

* **Metadata**: :func:`read_metadata`, :func:`list_versions`, :func:`select_version` / :func:`select`, and
  :func:`publish`, which lists versions in ``maven-metadata.xml`` (always last) and makes sure they stay listed.
* **Verified reads**: every file is checked against the strongest checksum sidecar the repository offers
  (sha512, sha256, sha1, then md5): :func:`remote_checksum`, :func:`read_verified`, :func:`fetch_verified`.
* **One cache, keyed by digest**: :class:`Cache`. A release never changes, so what was verified once is kept
  under its coordinate *and* its checksum (``CACHE/com/acme/churn/1.2.7/sha512-<digest>/`` for an extracted
  model, ``CACHE/cards/com/acme/churn/sha512-<digest>-churn-1.2.7-model.json`` for a card or a record); two
  repositories holding different bytes under one coordinate can never be confused. Every entry is re-verified
  (small files) or complete (models) when used; :func:`fill_model` builds a model's entry (the jar verified,
  then judged by a check it is given, then extracted).
* **What the repository records about a version**: its model card (:func:`fetch_card`) and its promotion record
  (:func:`fetch_promotion`), each checked to be about the coordinate asked for; :func:`read_history` reads them
  for every version of an artifact.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from registry._util import atomic_write, backoff
from registry.archive import CARD_ENTRY, check_embedded_pom, extract_model, read_entry
from registry.checksums import (
    STRONGEST_FIRST,
    Digests,
    digest_file,
    file_digest,
    parse_sidecar,
    verify_digest,
)
from registry.coordinates import Coordinate, Module, parse_request
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidInput, RepositoryUnavailable
from registry.metadata import Metadata
from registry.modelcard import CLASSIFIER as CARD_CLASSIFIER
from registry.modelcard import ModelCard
from registry.promotion import CLASSIFIER as PROMOTION_CLASSIFIER
from registry.promotion import PromotionRecord
from registry.repository.base import Repository, Source
from registry.repository.names import never_released, require_present
from registry.versions import Selector, Version

_T = TypeVar("_T")

__all__ = [
    "ABSENT",
    "CONCURRENCY",
    "READ_WIDTH",
    "ArtifactHistory",
    "Cache",
    "Note",
    "VersionCard",
    "fetch_card",
    "fetch_promotion",
    "fetch_verified",
    "fill_model",
    "is_listed",
    "list_versions",
    "publish",
    "read_history",
    "read_many",
    "read_metadata",
    "read_verified",
    "remote_checksum",
    "select",
    "select_version",
    "sha512_or_none",
    "strongest_checksum",
    "together",
    "upload_version",
]

#: How long :func:`publish` keeps merging its versions back in on a server that loses concurrent updates.
PUBLISH_DEADLINE = 120.0
#: How many files a deploy uploads at once, and how many versions' promotion records a command looks for at once.
CONCURRENCY = 16
#: How many small files (cards, their checksums, promotion records) one command reads at once, on as many
#: kept-alive connections (the HTTP transport keeps that many): at 20 ms a round trip, 3,200 files a second.
READ_WIDTH = 64


# -- maven-metadata.xml -------------------------------------------------------------------------------------


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
    repository: Repository, module: Module, versions: Sequence[Version], *, ready: Callable[[], None] | None = None
) -> None:
    """List ``versions`` in the artifact's ``maven-metadata.xml``, and make sure they stay listed.

    A metadata update is a union of versions, so it can always be merged again: where the server cannot make the
    read-modify-write atomic (nginx honours neither ``If-Match`` nor ``LOCK``), a concurrent writer may overwrite
    ours. The result is read back, and while any of ``versions`` is missing the update is made again, with
    jittered backoff, until they are listed or :data:`PUBLISH_DEADLINE` passes.

    ``ready``: called once the metadata is read (and locked, where the repository locks it), before it is
    written: it waits for the versions' files to be in place and raises if they are not, and then nothing is
    written. So the lock and the read overlap the end of an upload.
    """
    source = f"{module.metadata_path} in {repository.display}"
    wanted = {str(v) for v in versions}

    def add(current: bytes | None) -> bytes:
        if ready is not None:
            ready()
        metadata = Metadata.parse(current, module, source) if current is not None else Metadata(module)
        return metadata.with_versions(versions).render()

    deadline = time.monotonic() + PUBLISH_DEADLINE
    attempt = 0
    while True:
        attempt += 1
        repository.update(module.metadata_path, add)
        listed = read_metadata(repository, module)
        missing = wanted - set(listed.versions if listed else ())
        if not missing:
            return
        if time.monotonic() > deadline:
            raise RepositoryUnavailable(
                f"{module}:{', '.join(sorted(missing))} was uploaded to {repository.display}, but its "
                "maven-metadata.xml kept losing it to concurrent writers, so latest.release and Ivy cannot see it. "
                f"Run 'registry fsck {module} --repair' to list it, or deploy again."
            )
        backoff(attempt)


# -- verified reads ------------------------------------------------------------------------------------------


def remote_checksum(
    repository: Repository, path: str, what: str, algorithms: Sequence[str] = STRONGEST_FIRST
) -> tuple[str, str]:
    """The strongest checksum the repository offers for ``path`` (sha512 > sha256 > sha1 > md5)."""
    for algorithm in algorithms:
        try:
            content = repository.read(f"{path}.{algorithm}")
        except ArtifactNotFound:
            continue
        return algorithm, parse_sidecar(content, algorithm, f"{what} in {repository.display}")
    if not repository.exists(path):
        raise ArtifactNotFound(f"{what} does not exist in {repository.display}.")
    raise IntegrityError(
        f"{what} in {repository.display} has no checksum file (.sha512, .sha256, .sha1 or .md5), so it cannot be "
        "verified; refusing it. Ask the repository owner to regenerate its checksums."
    )


def sha512_or_none(repository: Repository, path: str) -> bytes | None:
    try:
        return repository.read(f"{path}.sha512")
    except ArtifactNotFound:
        return None


def strongest_checksum(repository: Repository, path: str, what: str, sha512: bytes | None) -> tuple[str, str]:
    """:func:`remote_checksum`, given the content of ``path.sha512`` already read (``None`` where it is absent)."""
    if sha512 is not None:
        return "sha512", parse_sidecar(sha512, "sha512", f"{what} in {repository.display}")
    return remote_checksum(repository, path, what, STRONGEST_FIRST[1:])


def together(first: Callable[[], _T], second: Callable[[], Any]) -> tuple[_T, Any]:
    """Run two requests at once (the second on a thread) and return both results; the first failure is raised,
    after both have ended."""
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(second)
        try:
            result = first()
        finally:
            other_result = _settled(other)
    return result, other_result.result()


def _settled(future: Future[_T]) -> Future[_T]:
    """Wait for ``future`` to end, whatever its outcome."""
    future.exception()
    return future


def fetch_verified(
    repository: Repository, path: str, destination: Path, what: str, *, every: Iterable[str] = ()
) -> Digests:
    """Download ``path`` into ``destination`` and verify it against its strongest checksum or, given ``every``
    (algorithms whose sidecars exist), against each of them; a mismatch removes the file and raises."""
    algorithms = list(every)
    expected = {}
    if algorithms:
        where = f"{what} in {repository.display}"
        expected = {a: parse_sidecar(repository.read(f"{path}.{a}"), a, where) for a in algorithms}
    else:
        algorithm, digest = remote_checksum(repository, path, what)
        expected = {algorithm: digest}
    repository.fetch(path, destination)
    digests = digest_file(destination)
    try:
        for algorithm, digest in expected.items():
            if algorithms and digests.get(algorithm) != digest:
                raise IntegrityError(
                    f"{what} has {algorithm} {digests.get(algorithm)}, but its .{algorithm} says {digest}"
                )
            digests.verify(algorithm, digest, f"{what} from {repository.display}")
    except IntegrityError:
        destination.unlink(missing_ok=True)
        raise
    return digests


@functools.lru_cache(maxsize=64)
def _origin_key(origin: str) -> str:
    """The cache index's folder for a repository."""
    return hashlib.sha256(origin.encode()).hexdigest()[:32]


#: What the index says about a file a repository does not have (a promotion record never written).
ABSENT = ("absent", "")


@dataclass(frozen=True)
class Cache:
    """Verified files and extracted models, kept under their coordinate and checksum (see the module docstring),
    and an index of what each repository served.

    The index (``CACHE/served/<hash of the repository's URL>/<artifact>/index``, one line ``NAME ALGORITHM DIGEST``
    per file, or ``NAME absent``) says which checksum a repository, identified by its URL without credentials
    (:attr:`Repository.origin <registry.repository.base.Repository.origin>`), served for a file of a release. A
    release never changes, so once its entry is in the cache a read of that file asks the repository nothing; and
    two repositories with different bytes under one coordinate each have their own index. Lines are only ever
    appended, each batch in one ``write`` (atomic against other processes appending); the last line about a file
    wins, and a line that does not parse is ignored. A cached small file is written in place, without a rename:
    it is checked against its digest whenever it is read, so a torn one is refilled, never believed.

    Files read many at once (every card of an artifact, :func:`read_many`) are kept together in the artifact's
    pack (``CACHE/cards/<artifact>/pack``): records ``NAME ALGORITHM DIGEST LENGTH``, a newline, the bytes and a
    newline, appended a batch per ``write``, so that a warm read opens one file rather than one per version and a
    cold one creates none. A record is checked against its digest when it is used, like a file; a pack that does
    not parse to its end is believed up to the damage and written again whole on the next batch. Notes about
    cached files (:meth:`note`: the check of a card's signature) are kept the same way, in ``notes``.
    """

    root: Path
    _indexes: dict[tuple[str, str], dict[str, tuple[str, str]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _packs: dict[tuple[str, str], _Pack] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def entry(self, coordinate: Coordinate, algorithm: str, digest: str) -> Path:
        """The folder for one verified jar: its extracted model."""
        return self.root / coordinate.directory / f"{algorithm}-{digest[:40]}"

    def small_file(self, coordinate: Coordinate, name: str, algorithm: str, digest: str) -> str:
        """Where one verified small file is kept: by artifact, in one folder (its name says the version)."""
        return os.path.join(self.root, "cards", coordinate.module.path, f"{algorithm}-{digest[:40]}-{name}")

    def read(
        self, coordinate: Coordinate, name: str, algorithm: str, digest: str, *, packed: bool = False
    ) -> bytes | None:
        """A cached small file, if it is there and still has the digest (a damaged cache is refilled, never
        believed). It is looked for in the artifact's pack first where that was read, or with ``packed`` (the pack
        is then read, whole: for reads of many files)."""
        key = (coordinate.module.path, _PACK)
        pack = self._pack(coordinate.module, _PACK) if packed else self._packs.get(key)
        data = pack.records.get((name, algorithm, digest)) if pack is not None else None
        if data is None:
            try:
                with open(self.small_file(coordinate, name, algorithm, digest), "rb") as file:
                    data = file.read()  # strings, not Paths: a warm search reads thousands of these
            except OSError:
                return None
        return data if hashlib.new(algorithm, data, usedforsecurity=False).hexdigest() == digest else None

    def keep_packed(self, files: Iterable[tuple[Coordinate, str, str, str, bytes]]) -> None:
        """Cache verified small files ``(coordinate, name, algorithm, digest, data)`` in their artifacts' packs:
        one append per artifact; failing to cache never fails the read."""
        batches: dict[Module, list[tuple[tuple[str, str, str], bytes]]] = {}
        for coordinate, name, algorithm, digest, data in files:
            batches.setdefault(coordinate.module, []).append(((name, algorithm, digest), data))
        for module, batch in batches.items():
            self._add(module, _PACK, batch)

    def note(self, coordinate: Coordinate, name: str, algorithm: str, digest: str) -> Note:
        """The note kept about a cached small file (such as the check of its signature)."""
        return Note(self, coordinate.module, (name, algorithm, digest))

    def _add(self, module: Module, kind: str, batch: Sequence[tuple[tuple[str, str, str], bytes]]) -> None:
        """Append records to one of an artifact's packs (written again whole where it was damaged); failing to
        cache never fails the read."""
        pack = self._pack(module, kind)
        with self._lock:
            damaged = pack.damaged
            pack.records.update(batch)
            pack.damaged = False
            records = list(pack.records.items()) if damaged else batch
        text = b"".join(
            b"%s %s %s %d\n%s\n" % (name.encode(), algorithm.encode(), digest.encode(), len(data), data)
            for (name, algorithm, digest), data in records
        )
        target = self._pack_file(module, kind)
        try:
            if damaged:
                atomic_write(Path(target), text)
            else:
                _append(target, text)
        except (OSError, UnicodeEncodeError):
            return

    def _pack_file(self, module: Module, kind: str) -> str:
        return os.path.join(self.root, "cards", module.path, kind)

    def _pack(self, module: Module, kind: str) -> _Pack:
        """The pack ``kind`` of ``module``, read once per cache object."""
        key = (module.path, kind)
        with self._lock:
            pack = self._packs.get(key)
            if pack is not None:
                return pack
        try:
            with open(self._pack_file(module, kind), "rb") as file:
                pack = _Pack.parse(file.read())
        except OSError:
            pack = _Pack({})
        with self._lock:
            return self._packs.setdefault(key, pack)

    def keep(self, coordinate: Coordinate, name: str, algorithm: str, digest: str, data: bytes) -> None:
        """Cache a verified small file; failing to cache never fails the read."""
        target = self.small_file(coordinate, name, algorithm, digest)
        try:
            try:
                file = open(target, "wb")  # noqa: SIM115 - the folder is there but for an artifact's first file
            except FileNotFoundError:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                file = open(target, "wb")  # noqa: SIM115
            with file:
                file.write(data)
        except OSError:
            return

    def model(self, origin: str | None, coordinate: Coordinate) -> Path | None:
        """The entry of the jar of ``coordinate`` the repository at ``origin`` served, verified and extracted
        before (its ``model/``), or ``None``."""
        known = self.served(origin, coordinate, coordinate.file_name("jar"))
        if known is None or known == ABSENT:
            return None
        entry = self.entry(coordinate, *known)
        return entry if (entry / "model").is_dir() else None

    def served(self, origin: str | None, coordinate: Coordinate, name: str) -> tuple[str, str] | None:
        """``(algorithm, digest)`` of the file ``name`` of ``coordinate`` as the repository at ``origin`` served
        it and it was verified, :data:`ABSENT` where it was found not to exist for good, ``None`` if unknown."""
        if origin is None:
            return None
        return self._index(origin, coordinate.module).get(name)

    def remember(self, origin: str | None, coordinate: Coordinate, name: str, algorithm: str, digest: str) -> None:
        """Record that the repository at ``origin`` served ``name`` with this verified digest (or, given
        :data:`ABSENT`, that it will never have it); failing to record never fails the read."""
        self.remember_all(origin, [(coordinate, name, algorithm, digest)])

    def remember_all(self, origin: str | None, files: Iterable[tuple[Coordinate, str, str, str]]) -> None:
        """:meth:`remember` each ``(coordinate, name, algorithm, digest)``: one append per artifact."""
        if origin is None:
            return
        lines: dict[Module, list[str]] = {}
        for coordinate, name, algorithm, digest in files:
            index = self._index(origin, coordinate.module)
            with self._lock:
                index[name] = (algorithm, digest)
            lines.setdefault(coordinate.module, []).append(f"{name} {algorithm} {digest}".strip() + "\n")
        for module, text in lines.items():
            try:
                _append(self._index_file(origin, module), "".join(text).encode("ascii"))
            except (OSError, UnicodeEncodeError):
                continue

    def _index_file(self, origin: str, module: Module) -> str:
        return os.path.join(self.root, "served", _origin_key(origin), module.path, "index")

    def _index(self, origin: str, module: Module) -> dict[str, tuple[str, str]]:
        """The index of what ``origin`` served of ``module``, read once per cache object."""
        key = (origin, module.path)
        with self._lock:
            index = self._indexes.get(key)
            if index is not None:
                return index
        index = {}
        try:
            with open(self._index_file(origin, module), "rb") as file:
                text = file.read().decode("ascii", errors="replace")
        except OSError:
            text = ""
        for line in text.splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[1] in STRONGEST_FIRST and fields[2].isalnum():
                index[fields[0]] = (fields[1], fields[2])
            elif len(fields) == 2 and fields[1] == ABSENT[0]:
                index[fields[0]] = ABSENT
        with self._lock:
            return self._indexes.setdefault(key, index)


def _append(target: str, data: bytes) -> None:
    """Append ``data`` to ``target`` in one ``write`` (atomic against other processes appending)."""
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


@dataclass
class _Pack:
    """The records of an artifact's pack (see :class:`Cache`) by ``(name, algorithm, digest)``; ``damaged``: the
    file did not parse to its end."""

    records: dict[tuple[str, str, str], bytes]
    damaged: bool = False

    @classmethod
    def parse(cls, data: bytes) -> _Pack:
        records: dict[tuple[str, str, str], bytes] = {}
        at = 0
        while at < len(data):
            end = data.find(b"\n", at)
            fields = data[at:end].decode("ascii", errors="replace").split(" ") if end >= 0 else []
            if len(fields) != 4 or fields[1] not in STRONGEST_FIRST or not fields[3].isdigit():
                return cls(records, damaged=True)
            start = end + 1
            stop = start + int(fields[3])
            if data[stop : stop + 1] != b"\n":
                return cls(records, damaged=True)
            records[(fields[0], fields[1], fields[2])] = data[start:stop]
            at = stop + 1
        return cls(records)


#: The files of an artifact's folder in the cache that keep many records (see :class:`Cache`): verified small
#: files, and notes about them.
_PACK, _NOTES = "pack", "notes"


@dataclass(frozen=True)
class Note:
    """A record kept about one cached small file, in its artifact's ``notes`` (framed as the pack, the last one
    written wins; no digest covers it, so its reader checks what it says). Reads and writes like a file."""

    cache: Cache
    module: Module
    key: tuple[str, str, str]  # the file's name, algorithm, digest

    def read_bytes(self) -> bytes:
        """:raises FileNotFoundError: no note."""
        data = self.cache._pack(self.module, _NOTES).records.get(self.key)
        if data is None:
            raise FileNotFoundError(f"no note about {self.key[0]}")
        return data

    def write_bytes(self, data: bytes) -> None:
        """Append the note (failing to record never fails the caller)."""
        self.cache._add(self.module, _NOTES, [(self.key, data)])


def read_verified(
    repository: Repository, coordinate: Coordinate, path: str, what: str, *, cache: Cache | None = None
) -> bytes:
    """Read a small file of the release ``coordinate`` and verify it; with ``cache``, a file this repository
    served and was verified before is read from the cache without any request.

    Otherwise the file and its ``.sha512`` are read at once (one round trip); other checksums are looked for only
    where that one is missing.
    """
    name = path.rsplit("/", 1)[-1]
    if cache is not None:
        cached = _cached(repository, cache, coordinate, name)
        if cached is not None:
            return cached
    data, sha512 = together(lambda: repository.read(path), lambda: sha512_or_none(repository, path))
    return _verified(repository, path, what, data, sha512, cache, coordinate)


def _cached(
    repository: Repository, cache: Cache, coordinate: Coordinate, name: str, *, packed: bool = False
) -> bytes | None:
    known = cache.served(repository.origin, coordinate, name)
    if known is None or known == ABSENT:
        return None
    return cache.read(coordinate, name, *known, packed=packed)


def _verified(
    repository: Repository,
    path: str,
    what: str,
    data: bytes,
    sha512: bytes | None,
    cache: Cache | None,
    coordinate: Coordinate,
) -> bytes:
    algorithm, expected = _check(repository, path, what, data, sha512)
    if cache is not None:
        name = path.rsplit("/", 1)[-1]
        cache.keep(coordinate, name, algorithm, expected, data)
        cache.remember(repository.origin, coordinate, name, algorithm, expected)
    return data


def _check(repository: Repository, path: str, what: str, data: bytes, sha512: bytes | None) -> tuple[str, str]:
    """Verify ``data`` against the strongest checksum of ``path`` (``sha512``: its ``.sha512``, already read);
    returns that checksum."""
    algorithm, expected = strongest_checksum(repository, path, what, sha512)
    actual = hashlib.new(algorithm, data, usedforsecurity=False).hexdigest()
    verify_digest(algorithm, actual, expected, f"{what} from {repository.display}")
    return algorithm, expected


def _read_or_none(repository: Repository, path: str) -> bytes | None:
    try:
        return repository.read(path)
    except ArtifactNotFound:
        return None


def read_many(
    repository: Repository,
    files: Sequence[tuple[Coordinate, str, str]],
    *,
    cache: Cache | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> list[bytes | None]:
    """:func:`read_verified` of many small files ``(coordinate, path, what)`` of releases, :data:`READ_WIDTH`
    requests at a time (each file with its ``.sha512``), or on the threads of ``pool``; ``None`` for a file that
    does not exist. Files the cache index knows cost no request.

    What was read is cached once every read has ended (also when one failed), and the index is appended to once:
    files written while the reads run would make every one of them wait for the interpreter between system calls.
    """
    results: list[bytes | None] = [None] * len(files)
    missing: list[int] = []
    for index, (coordinate, path, _) in enumerate(files):
        name = path.rsplit("/", 1)[-1]
        cached = _cached(repository, cache, coordinate, name, packed=True) if cache is not None else None
        if cached is None:
            missing.append(index)
        results[index] = cached
    if not missing:
        return results
    verified: list[tuple[Coordinate, str, str, str, bytes]] = []
    threads = pool or ThreadPoolExecutor(min(READ_WIDTH, 2 * len(missing)))
    pending: list[tuple[int, Future[bytes | None], Future[bytes | None]]] = []
    try:
        pending = [
            (
                index,
                threads.submit(_read_or_none, repository, files[index][1]),
                threads.submit(sha512_or_none, repository, files[index][1]),
            )
            for index in missing
        ]
        for index, content, sha512 in pending:
            coordinate, path, what = files[index]
            data = content.result()
            if data is not None:
                algorithm, digest = _check(repository, path, what, data, sha512.result())
                verified.append((coordinate, path.rsplit("/", 1)[-1], algorithm, digest, data))
                results[index] = data
    finally:
        if pool is None:
            threads.shutdown(wait=True, cancel_futures=True)
        else:  # another's pool: its other work goes on; ours is cancelled, or waited for
            for _, content, sha512 in pending:
                for read in (content, sha512):
                    if not read.cancel():
                        _settled(read)
        if cache is not None:
            cache.keep_packed(verified)
            cache.remember_all(repository.origin, [entry[:4] for entry in verified])
    return results


# -- extracted releases -------------------------------------------------------------------------------------


def fill_model(
    cache: Cache,
    repository: Repository,
    coordinate: Coordinate,
    check: Callable[[Path, Path, _T], object],
    beside: Callable[[], _T],
) -> Path:
    """Download the jar of ``coordinate``, its strongest checksum and ``beside()`` (its signature) at once, verify
    the checksum, then ``check(jar, folder, beside())`` (``folder``: the entry being built, or the entry already
    there), and extract into the cache entry named after that checksum, atomically; the index remembers it.
    Returns the entry. Whatever ``check`` raises leaves nothing behind.

    :raises ArtifactNotFound: no such jar. :raises IntegrityError: it does not match its checksum.
    """
    staging_root = cache.root / coordinate.directory
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download.", dir=staging_root))
    try:
        jar = staging / coordinate.file_name("jar")
        path = coordinate.path("jar")
        try:
            _, (sha512, extra) = together(
                lambda: repository.fetch(path, jar),
                lambda: together(lambda: sha512_or_none(repository, path), beside),
            )
        except ArtifactNotFound:
            raise ArtifactNotFound(f"{coordinate} does not exist in {repository.display}.") from None
        algorithm, digest = strongest_checksum(repository, path, str(coordinate), sha512)
        entry = cache.entry(coordinate, algorithm, digest)
        if (entry / "model").is_dir():  # verified before, under the same checksum
            check(entry / coordinate.file_name("jar"), entry, extra)
        else:
            # Verified against the one digest the cache entry is named after (hashing a large jar four times was
            # most of a cold resolve's own cost).
            verify_digest(algorithm, file_digest(jar, algorithm), digest, f"{coordinate} from {repository.display}")
            check(jar, staging, extra)
            check_embedded_pom(jar, coordinate)
            extract_model(jar, staging / "model")
            card = read_entry(jar, CARD_ENTRY)
            if card is not None:
                (staging / "model.json").write_bytes(card)
            staging.chmod(0o755)
            try:
                os.rename(staging, entry)
            except OSError:
                if not (entry / "model").is_dir():  # not a concurrent resolver that won the race
                    raise
        cache.remember(repository.origin, coordinate, coordinate.file_name("jar"), algorithm, digest)
        return entry
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def upload_version(
    repository: Repository,
    files: Sequence[tuple[str, Source]],
    last: str,
    make_last: Callable[[], tuple[Source, Sequence[tuple[str, Source]]]],
    *,
    when_ready: Callable[[], None] | None = None,
) -> None:
    """Create the small ``files`` of a version at once (:data:`CONCURRENCY` at a time) while ``make_last()``
    makes the version's main file (packs the jar), then create that file at ``last`` so that it becomes visible
    only once every other file is in place: its bytes stream meanwhile, its end waits (see
    :meth:`Repository.create_after <registry.repository.base.Repository.create_after>`). ``make_last`` returns
    the file and more small files to upload with the others (its checksums). ``when_ready`` is called when the
    other files are in place and the end of the main file is on its way.

    Every upload is waited for, and the first failure raised; the main file then does not exist, so a version
    whose upload failed anywhere never resolves.
    """
    pool = ThreadPoolExecutor(CONCURRENCY)
    uploads = [pool.submit(repository.create, path, source) for path, source in files]

    def ready() -> None:
        for upload in list(uploads):
            upload.result()
        if when_ready is not None:
            when_ready()

    try:
        source, more = make_last()
        uploads.extend(pool.submit(repository.create, path, content) for path, content in more)
        repository.create_after(last, source, ready)
    finally:
        for upload in uploads:
            _settled(upload)
        pool.shutdown(wait=True, cancel_futures=True)
    for upload in uploads:
        upload.result()


# -- cards and promotion records ----------------------------------------------------------------------------


def _sidecar(
    repository: Repository,
    coordinate: Coordinate,
    classifier: str,
    cache: Cache | None,
    *,
    often_absent: bool,
    listed: bool = False,
) -> bytes | None:
    """The verified content of a version's ``-CLASSIFIER.json``, or ``None`` when it does not exist.

    ``often_absent``: read the file alone first (one request, absent or not), and its checksum only once it is
    there, rather than the two at once (a second request, wasted where it is absent). ``listed``: the version was
    listed in the metadata when this was called, so a file found absent stays absent (a promotion record is written
    before the version is listed, never after) and the cache index may say so.
    """
    path = coordinate.path("json", classifier)
    name = coordinate.file_name("json", classifier)
    if cache is not None:
        if cache.served(repository.origin, coordinate, name) == ABSENT:
            return None
        cached = _cached(repository, cache, coordinate, name)
        if cached is not None:
            return cached
    if often_absent:
        data = _read_or_none(repository, path)
        if data is None:
            if listed and cache is not None:
                cache.remember(repository.origin, coordinate, name, *ABSENT)
            return None
        return _verified(repository, path, name, data, sha512_or_none(repository, path), cache, coordinate)
    try:
        return read_verified(repository, coordinate, path, name, cache=cache)
    except ArtifactNotFound:
        return None


def fetch_card(repository: Repository, coordinate: Coordinate, *, cache: Cache | None = None) -> ModelCard:
    """The verified card of one version.

    :raises ArtifactNotFound: the version has no card sidecar. :raises IntegrityError: the card does not match its
        checksum, has none, is not readable, or is not a card of ``coordinate``.
    """
    data = _sidecar(repository, coordinate, CARD_CLASSIFIER, cache, often_absent=False)
    if data is None:
        require_present(repository)  # a mistyped repository path, not a version without a card
        raise ArtifactNotFound(
            f"{coordinate} has no model card ({coordinate.file_name('json', CARD_CLASSIFIER)}) in "
            f"{repository.display}. Check the version with 'registry versions {coordinate.module}'."
        )
    return card_of(data, coordinate, f"The model card of {coordinate} in {repository.display}")


def card_of(data: bytes, coordinate: Coordinate, what: str) -> ModelCard:
    """Parse a card that must describe ``coordinate``; :class:`IntegrityError` (naming ``what``) otherwise."""
    try:
        card = ModelCard.from_json(data)
    except (ValueError, TypeError, RecursionError) as exc:
        raise IntegrityError(f"{what} is not readable ({exc}). Ask the repository owner to check it.") from None
    if card.coordinate != str(coordinate):
        raise IntegrityError(
            f"{what} describes {card.coordinate!r}; refusing it. Ask the repository owner to check it."
        )
    return card


def fetch_promotion(
    repository: Repository, coordinate: Coordinate, *, cache: Cache | None = None, listed: bool = False
) -> PromotionRecord | None:
    """The verified record of the version's promotion into ``repository``, or ``None`` if it was never promoted
    there. ``listed``: the version is known to be listed in the repository's metadata (then an absent record is
    remembered in the cache: a promotion writes its record before it lists the version).

    :raises IntegrityError: the record does not match its checksum, or is not a record of ``coordinate``.
    """
    data = _sidecar(repository, coordinate, PROMOTION_CLASSIFIER, cache, often_absent=True, listed=listed)
    if data is None:
        return None
    return promotion_of(data, repository, coordinate)


def promotion_of(data: bytes, repository: Repository, coordinate: Coordinate) -> PromotionRecord:
    """Parse a promotion record that must be about ``coordinate``; :class:`IntegrityError` otherwise."""
    try:
        record = PromotionRecord.from_json(data)
    except InvalidInput as exc:
        raise IntegrityError(f"The promotion record of {coordinate} in {repository.display}: {exc}") from None
    if record.coordinate != str(coordinate):
        raise IntegrityError(
            f"The promotion record of {coordinate} in {repository.display} describes {record.coordinate!r}; "
            "refusing it. Ask the repository owner to check it."
        )
    return record


@dataclass(frozen=True)
class VersionCard:
    """A version, its card, and its promotion into the repository it was read from (if any)."""

    coordinate: Coordinate
    card: ModelCard
    promotion: PromotionRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON data, plus ``"promotion"`` (the record, or null)."""
        data = self.card.to_dict()
        data["promotion"] = self.promotion.to_dict() if self.promotion else None
        return data


@dataclass(frozen=True)
class ArtifactHistory:
    """Every released version of an artifact: those with a card (newest first) and those without."""

    module: Module
    cards: tuple[VersionCard, ...]
    without_card: tuple[Version, ...] = ()


def read_history(
    module: Module,
    repository: Repository,
    *,
    cache: Cache | None = None,
    promotions: bool = False,
    versions: Iterable[Version] | None = None,
) -> ArtifactHistory:
    """The cards of every released version of ``module`` (or of ``versions``), newest first, read via the cache
    and :data:`READ_WIDTH` requests at a time; with ``promotions``, each version's promotion record too, looked
    for on the same threads. What the cache already knows is answered on the calling thread: a warm read starts
    no thread at all."""
    listed = list_versions(module, repository) if versions is None else list(versions)
    coordinates = [module.at(version) for version in sorted(listed, reverse=True)]
    files = [(c, c.path("json", CARD_CLASSIFIER), c.file_name("json", CARD_CLASSIFIER)) for c in coordinates]
    known: list[tuple[int, Callable[[], PromotionRecord | None]]] = []
    asked: list[tuple[int, Callable[[], PromotionRecord | None]]] = []
    for index, coordinate in enumerate(coordinates if promotions else ()):
        ask = functools.partial(fetch_promotion, repository, coordinate, cache=cache, listed=versions is None)
        name = coordinate.file_name("json", PROMOTION_CLASSIFIER)
        cached = cache is not None and cache.served(repository.origin, coordinate, name)
        (known if cached else asked).append((index, ask))  # known: absent for good, or in the cache
    pool = ThreadPoolExecutor(READ_WIDTH) if asked else None
    futures: list[tuple[int, Future[PromotionRecord | None]]] = []
    try:
        if pool is not None:
            futures = [(index, pool.submit(ask)) for index, ask in asked]
        cards = read_many(repository, files, cache=cache, pool=pool)
    finally:
        for _, future in futures:
            _settled(future)
        if pool is not None:
            pool.shutdown()
    records: list[PromotionRecord | None] = [None] * len(coordinates)
    for index, future in futures:
        records[index] = future.result() if cards[index] is not None else None
    for index, answer in known:  # on this thread: a damaged cached copy is read again here
        records[index] = answer() if cards[index] is not None else None
    history: list[VersionCard] = []
    without: list[Version] = []
    for coordinate, data, record in zip(coordinates, cards, records, strict=True):
        if data is None:
            without.append(coordinate.version)  # deployed by another tool: listed, but without a card
            continue
        card = card_of(data, coordinate, f"The model card of {coordinate} in {repository.display}")
        history.append(VersionCard(coordinate, card, record))
    return ArtifactHistory(module, tuple(history), tuple(without))
