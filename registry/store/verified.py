"""Reads checked against the strongest checksum sidecar a repository offers (sha512, sha256, sha1, then md5):
:func:`remote_checksum`, :func:`fetch_verified` (a file of any size, to disk), :func:`read_verified` (a small file,
through the cache), :func:`read_version_json` (a card or a promotion record, which may not exist),
:func:`read_many_verified` (many small files at once, on the repository's threads) and :func:`read_many_alone`
(many files that may not exist, such as promotion records, at once)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from registry.checksums import STRONGEST_FIRST, Digests, digest_file, parse_sidecar, verify_digest
from registry.coordinates import Coordinate
from registry.exceptions import ArtifactNotFound, IntegrityError, RegistryError
from registry.repository.base import Repository
from registry.store.cache import ABSENT, Cache

_T = TypeVar("_T")

__all__ = [
    "concurrently",
    "fetch_verified",
    "read_many_alone",
    "read_many_verified",
    "read_verified",
    "read_version_json",
    "remote_checksum",
    "sha512_or_none",
    "strongest_checksum",
]


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


def concurrently(first: Callable[[], _T], second: Callable[[], Any]) -> tuple[_T, Any]:
    """Run two requests at once (the second on a thread) and return both results; the first failure is raised,
    after both have ended."""
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(second)
        try:
            result = first()
        finally:
            other.exception()  # waits for its end, whatever it is
    return result, other.result()


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
    data, sha512 = concurrently(lambda: repository.read(path), lambda: sha512_or_none(repository, path))
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


def read_version_json(
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


def read_many_alone(
    repository: Repository,
    files: Sequence[tuple[Coordinate, str, str]],
    *,
    cache: Cache | None = None,
    listed: bool = False,
) -> list[bytes | RegistryError | None]:
    """:func:`read_version_json` with ``often_absent`` of many files ``(coordinate, path, what)`` of releases, all at
    once: the files alone first, in one :meth:`Repository.read_files
    <registry.repository.base.Repository.read_files>` (one request each, there or not), then the ``.sha512`` of
    those there. For each file its verified content, ``None`` where it does not exist, or the error that refused it
    (the caller decides whether it matters). ``listed``: as for :func:`read_version_json` (the files found absent
    are remembered so in the cache, in one append)."""
    results: list[bytes | RegistryError | None] = [None] * len(files)
    asked: list[int] = []
    for index, (coordinate, path, _) in enumerate(files):
        name = path.rsplit("/", 1)[-1]
        if cache is not None:
            if cache.served(repository.origin, coordinate, name) == ABSENT:
                continue
            results[index] = _cached(repository, cache, coordinate, name)
            if results[index] is not None:
                continue
        asked.append(index)
    contents = repository.read_files([files[index][1] for index in asked]) if asked else []
    there = [(index, data) for index, data in zip(asked, contents, strict=True) if data is not None]
    sha512s = repository.read_files([f"{files[index][1]}.sha512" for index, _ in there]) if there else []
    for (index, data), sha512 in zip(there, sha512s, strict=True):
        coordinate, path, what = files[index]
        try:
            results[index] = _verified(repository, path, what, data, sha512, cache, coordinate)
        except RegistryError as exc:
            results[index] = exc
    if listed and cache is not None:
        absent = [files[index] for index, data in zip(asked, contents, strict=True) if data is None]
        cache.remember_all(repository.origin, [(c, path.rsplit("/", 1)[-1], *ABSENT) for c, path, _ in absent])
    return results


def read_many_verified(
    repository: Repository,
    files: Sequence[tuple[Coordinate, str, str]],
    *,
    cache: Cache | None = None,
    beside: Sequence[Callable[[], _T]] = (),
    each: Callable[[int, bytes], object] | None = None,
) -> tuple[list[bytes | None], list[_T]]:
    """:func:`read_verified` of many small files ``(coordinate, path, what)`` of releases, each with its
    ``.sha512``, all at once (:meth:`Repository.read_files_as_ready
    <registry.repository.base.Repository.read_files_as_ready>`); ``None`` for a file that does not exist. Files the
    cache index knows cost no request, and where every file is known (and nothing is ``beside``) no thread starts.
    ``beside``: other reads to run at the same time, on the repository's threads; their results come second, in
    order. ``each(index, content)``: called for each file as soon as it is verified (the cached ones first), while
    the others travel, so that the caller can parse it meanwhile.

    Each file is verified as soon as it and its checksum have both come. A failure is raised once every read has
    ended, as if the files were verified in order: a failure of ``beside`` first, then one of the reads, then the
    first file (in the order of ``files``) refused. What was verified is cached once every read has ended (the
    refused files excepted), and the index is appended to once: files written while the reads run would make
    every one of them wait for the interpreter between system calls.
    """
    results: list[bytes | None] = [None] * len(files)
    missing: list[int] = []
    for index, (coordinate, path, _) in enumerate(files):
        name = path.rsplit("/", 1)[-1]
        cached = _cached(repository, cache, coordinate, name, packed=True) if cache is not None else None
        if cached is None:
            missing.append(index)
        else:
            results[index] = cached
            if each is not None:
                each(index, cached)
    if not missing and not beside:
        return results, []
    paths = [path for index in missing for path in (files[index][1], f"{files[index][1]}.sha512")]
    arrived: list[bytes | None] = [None] * len(paths)
    pending = bytearray(b"\2" * len(missing))  # per file: how many of it and its checksum are still to come
    verified: list[tuple[Coordinate, str, str, str, bytes]] = []
    refused: dict[int, RegistryError] = {}

    def verify(at: int) -> None:
        index, data = missing[at], arrived[2 * at]
        if data is None:
            return  # it does not exist
        coordinate, path, what = files[index]
        try:
            algorithm, digest = _check(repository, path, what, data, arrived[2 * at + 1])
        except RegistryError as exc:
            refused[index] = exc
            return
        verified.append((coordinate, path.rsplit("/", 1)[-1], algorithm, digest, data))
        results[index] = data
        if each is not None:
            each(index, data)

    def read() -> None:
        for chunk in repository.read_files_as_ready(paths):
            for at, content in chunk:
                arrived[at] = content
                pending[at // 2] -= 1
                if not pending[at // 2]:
                    verify(at // 2)

    others: list[_T] = []
    try:
        if beside:  # a failure beside comes first, as when these reads ended before the files were verified
            others, _ = concurrently(functools.partial(repository.read_many, _call, beside), read)
        else:
            read()
    finally:
        if cache is not None:
            cache.keep_packed(verified)
            cache.remember_all(repository.origin, [entry[:4] for entry in verified])
    if refused:
        raise refused[min(refused)]
    return results, others


def _call(read: Callable[[], _T]) -> _T:
    return read()
