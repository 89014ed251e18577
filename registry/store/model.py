"""A release's model in the cache: :func:`fill_model` downloads the jar, verifies it against its strongest
checksum, has it judged by a check it is given (its signature), and extracts it into the cache entry named after
that checksum; :func:`fill_model_from_jar` does the same for a jar already on this machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from registry.archive import CARD_ENTRY, check_embedded_pom, extract_model, read_entry
from registry.checksums import file_digest, verify_digest
from registry.coordinates import Coordinate
from registry.exceptions import ArtifactNotFound, IntegrityError
from registry.repository.base import Repository
from registry.store.cache import Cache
from registry.store.following import fetch_hashed
from registry.store.unzipping import StreamedEntries
from registry.store.verified import concurrently, sha512_or_none, strongest_checksum

_T = TypeVar("_T")

__all__ = ["fill_model", "fill_model_from_jar"]


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
    with _staging(cache, coordinate) as staging:
        jar = staging / coordinate.file_name("jar")
        path = coordinate.path("jar")
        (staging / _STREAMED).mkdir()
        streamed = StreamedEntries(staging / _STREAMED)
        try:
            # the jar's sha512 (what a deploy writes) is computed as it arrives, its large stored entries written out
            hashed, (sha512, extra) = concurrently(
                lambda: fetch_hashed(repository, path, jar, _LOCAL, streamed),
                lambda: concurrently(lambda: sha512_or_none(repository, path), beside),
            )
        except ArtifactNotFound:
            raise ArtifactNotFound(f"{coordinate} does not exist in {repository.display}.") from None
        algorithm, digest = strongest_checksum(repository, path, str(coordinate), sha512)
        entry = cache.entry(coordinate, algorithm, digest)
        if (entry / "model").is_dir():  # verified before, under the same checksum
            check(entry / coordinate.file_name("jar"), entry, extra)
        else:
            # Verified against the one digest the cache entry is named after (hashing a large jar four times was
            # most of a cold resolve's own cost), hashed as it arrived where that is its sha512.
            if algorithm != _LOCAL:  # the bytes streamed were hashed, not verified
                hashed = file_digest(jar, algorithm)
                streamed.discard()
            verify_digest(algorithm, hashed, digest, f"{coordinate} from {repository.display}")
            check(jar, staging, extra)
            _install(coordinate, jar, staging, entry, ready=streamed.entries)
        cache.remember(repository.origin, coordinate, coordinate.file_name("jar"), algorithm, digest)
        return entry


def fill_model_from_jar(cache: Cache, coordinate: Coordinate, jar: Path, check: Callable[[Path, Path], object]) -> Path:
    """A jar of ``coordinate`` already on this machine (Spark's Ivy put it on the classpath) in the cache entry
    :func:`fill_model` fills for the same bytes: named after its sha512, so a release resolved from a repository
    and found on the classpath is extracted once. ``check(jar, folder)`` judges the copy the entry keeps (or the
    entry already there) before anything is extracted; whatever it raises leaves nothing behind. Returns the entry.

    :raises IntegrityError: the jar changed while it was copied, or embeds the POM of another coordinate.
    """
    digest = file_digest(jar, _LOCAL)
    entry = cache.entry(coordinate, _LOCAL, digest)
    if (entry / "model").is_dir():  # extracted before, from these very bytes
        check(entry / coordinate.file_name("jar"), entry)
        return entry
    with _staging(cache, coordinate) as staging:
        copy = staging / coordinate.file_name("jar")
        shutil.copyfile(jar, copy)
        if file_digest(copy, _LOCAL) != digest:
            raise IntegrityError(f"{jar} changed while it was copied into the cache; nothing was kept. Try again.")
        check(copy, staging)
        _install(coordinate, copy, staging, entry)
        return entry


#: The folder of a staging entry where large stored entries are written as the jar downloads (removed before the
#: entry is renamed into place).
_STREAMED = ".streamed"

#: The digest a jar found on this machine is kept under: the strongest a repository offers, as a deploy uploads it.
_LOCAL = "sha512"


@contextlib.contextmanager
def _staging(cache: Cache, coordinate: Coordinate) -> Iterator[Path]:
    """A temporary folder beside the entries of ``coordinate``, removed at the end (renamed into place, it is gone)."""
    staging_root = cache.root / coordinate.directory
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download.", dir=staging_root))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _install(
    coordinate: Coordinate,
    jar: Path,
    staging: Path,
    entry: Path,
    *,
    ready: Mapping[int, tuple[str, int, Path]] | None = None,
) -> None:
    """Extract the judged ``jar`` (in ``staging``) and its card there, and rename ``staging`` to ``entry``;
    ``ready``: the jar was verified against the digest it was published with, and these of its entries streamed
    (see :func:`~registry.archive.extract_model`)."""
    check_embedded_pom(jar, coordinate)
    extract_model(jar, staging / "model", verified=ready is not None, ready=ready)
    shutil.rmtree(staging / _STREAMED, ignore_errors=True)
    card = read_entry(jar, CARD_ENTRY)
    if card is not None:
        (staging / "model.json").write_bytes(card)
    staging.chmod(0o755)
    try:
        os.rename(staging, entry)
    except OSError:
        if not (entry / "model").is_dir():  # not a concurrent resolver that won the race
            raise
