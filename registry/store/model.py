"""A release's model in the cache: :func:`fill_model` downloads the jar, verifies it against its strongest
checksum, has it judged by a check it is given (its signature), and extracts it into the cache entry named after
that checksum."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from registry.archive import CARD_ENTRY, check_embedded_pom, extract_model, read_entry
from registry.checksums import file_digest, verify_digest
from registry.coordinates import Coordinate
from registry.exceptions import ArtifactNotFound
from registry.repository.base import Repository
from registry.store.cache import Cache
from registry.store.verified import concurrently, sha512_or_none, strongest_checksum

_T = TypeVar("_T")

__all__ = ["fill_model"]


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
            _, (sha512, extra) = concurrently(
                lambda: repository.fetch(path, jar),
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
