"""Verified reads: a file from a repository, checked against the strongest checksum sidecar it has."""

from __future__ import annotations

from pathlib import Path

from registry.checksums import STRONGEST_FIRST, Digests, digest_bytes, digest_file, parse_sidecar
from registry.exceptions import ArtifactNotFound, IntegrityError
from registry.repository.base import Repository

__all__ = ["fetch_verified", "read_verified", "remote_checksum"]


def remote_checksum(repository: Repository, path: str, what: str) -> tuple[str, str]:
    """The strongest checksum the repository offers for ``path`` (sha512 > sha256 > sha1 > md5)."""
    for algorithm in STRONGEST_FIRST:
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


def fetch_verified(repository: Repository, path: str, destination: Path, what: str) -> Digests:
    """Download ``path`` into ``destination`` and verify it; a mismatch removes the file and raises."""
    algorithm, expected = remote_checksum(repository, path, what)
    repository.fetch(path, destination)
    digests = digest_file(destination)
    try:
        digests.verify(algorithm, expected, f"{what} from {repository.display}")
    except IntegrityError:
        destination.unlink(missing_ok=True)
        raise
    return digests


def read_verified(repository: Repository, path: str, what: str) -> bytes:
    """Read a small file and verify it."""
    algorithm, expected = remote_checksum(repository, path, what)
    data = repository.read(path)
    digest_bytes(data).verify(algorithm, expected, f"{what} from {repository.display}")
    return data
