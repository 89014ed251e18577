"""The four digests Maven repositories carry beside every file, computed in one pass over the bytes."""

from __future__ import annotations

import hashlib
import hmac
import queue
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from registry.exceptions import IntegrityError

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = [
    "ALGORITHMS",
    "SIDECAR_SUFFIXES",
    "STRONGEST_FIRST",
    "ConcurrentDigester",
    "Digester",
    "Digests",
    "digest_bytes",
    "digest_file",
    "digest_stream",
    "file_digest",
    "parse_sidecar",
    "verify_digest",
]

#: Sidecar extensions, in the order they are written.
ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
#: The order in which a resolver prefers them.
STRONGEST_FIRST = ("sha512", "sha256", "sha1", "md5")
#: How checksum sidecar files end (``.md5`` ...), to tell them from the files they vouch for.
SIDECAR_SUFFIXES = tuple(f".{a}" for a in ALGORITHMS)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Digests:
    """Lower-case hex digests of one file."""

    md5: str
    sha1: str
    sha256: str
    sha512: str

    def get(self, algorithm: str) -> str:
        """The digest for ``algorithm`` (one of :data:`ALGORITHMS`)."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown checksum algorithm {algorithm!r}")
        value: str = getattr(self, algorithm)
        return value

    def sidecars(self) -> Iterable[tuple[str, bytes]]:
        """``(extension, content)`` for each sidecar file, as Maven writes them (bare hex digest)."""
        for algorithm in ALGORITHMS:
            yield algorithm, self.get(algorithm).encode("ascii")

    def verify(self, algorithm: str, expected: str, what: str) -> None:
        """Raise :class:`IntegrityError` unless the ``algorithm`` digest equals ``expected``."""
        verify_digest(algorithm, self.get(algorithm), expected, what)


def verify_digest(algorithm: str, actual: str, expected: str, what: str) -> None:
    """Raise :class:`IntegrityError` unless the hex digest ``actual`` equals ``expected`` (in any case)."""
    if not hmac.compare_digest(actual, expected.lower()):
        raise IntegrityError(
            f"Checksum mismatch for {what}: {algorithm} is {actual}, the repository says {expected}. "
            "The file is corrupt or was tampered with; nothing was kept. Ask the repository owner to check it."
        )


class Digester:
    """Feed bytes with :meth:`update`; :meth:`digests` gives all four digests."""

    def __init__(self) -> None:
        self._hashes: list[_Hash] = [hashlib.new(name, usedforsecurity=False) for name in ALGORITHMS]
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        for h in self._hashes:
            h.update(data)
        self.size += len(data)

    def digests(self) -> Digests:
        return Digests(*(h.hexdigest() for h in self._hashes))


class ConcurrentDigester:
    """A :class:`Digester` whose four hashes run on four threads (hashlib releases the GIL on large blocks), so
    that hashing takes about as long as the slowest digest and overlaps whatever the caller does meanwhile.
    Feed blocks with :meth:`update` (they must not change afterwards); :meth:`digests` waits for the hashes."""

    def __init__(self) -> None:
        self.size = 0
        self._queues: list[queue.Queue[bytes | memoryview | None]] = [queue.Queue(8) for _ in ALGORITHMS]
        self._results: list[str] = [""] * len(ALGORITHMS)
        self._threads = [
            threading.Thread(target=self._hash, args=(i, name), name=f"digest-{name}", daemon=True)
            for i, name in enumerate(ALGORITHMS)
        ]
        for thread in self._threads:
            thread.start()

    def _hash(self, index: int, name: str) -> None:
        digest = hashlib.new(name, usedforsecurity=False)
        while (block := self._queues[index].get()) is not None:
            digest.update(block)
        self._results[index] = digest.hexdigest()

    def update(self, data: bytes | memoryview) -> None:
        for blocks in self._queues:
            blocks.put(data)
        self.size += len(data)

    def digests(self) -> Digests:
        for blocks in self._queues:
            blocks.put(None)
        for thread in self._threads:
            thread.join()
        return Digests(*self._results)


def digest_stream(stream: BinaryIO) -> Digests:
    """Digests of everything left in ``stream``."""
    digester = Digester()
    while chunk := stream.read(_CHUNK):
        digester.update(chunk)
    return digester.digests()


def digest_file(path: Path) -> Digests:
    """Digests of a file, read once in 1 MiB chunks."""
    with path.open("rb") as stream:
        return digest_stream(stream)


def file_digest(path: Path, algorithm: str) -> str:
    """One digest of a file: what a resolver verifies, for a quarter of the hashing of :func:`digest_file`."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def digest_bytes(data: bytes) -> Digests:
    """Digests of an in-memory byte string."""
    digester = Digester()
    digester.update(data)
    return digester.digests()


_HEX = re.compile("[0-9a-f]*")


def parse_sidecar(content: bytes, algorithm: str, what: str) -> str:
    """The hex digest in a checksum sidecar (``HEX`` or ``HEX  filename``, as different tools write it)."""
    lengths = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
    text = content.decode("ascii", errors="replace").strip()
    token = text.split()[0].lower() if text else ""
    if len(token) != lengths[algorithm] or not _HEX.fullmatch(token):
        raise IntegrityError(
            f"The {algorithm} checksum file of {what} does not hold a {algorithm} digest ({text[:80]!r}). "
            "Ask the repository owner to regenerate it."
        )
    return token
