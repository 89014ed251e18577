"""A download hashed as it arrives: :func:`fetch_hashed` follows the file :meth:`Repository.fetch
<registry.repository.base.Repository.fetch>` writes, on a thread of its own, and hashes each block once it is on
disk, so that a large jar's digest is ready when its last byte is (hashing a 32 MiB jar after its download cost a
cold resolve a third of its time). It works with every kind of repository, whose ``fetch`` writes its destination
once, front to back: a file found replaced or of another size than what was hashed is hashed again whole."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from registry.checksums import file_digest
from registry.repository.base import Repository
from registry.store.unzipping import StreamedEntries

__all__ = ["fetch_hashed"]

_BLOCK = 1 << 20
_PAUSE = 0.002  # seconds between looks at a file that has not grown


def fetch_hashed(
    repository: Repository, path: str, destination: Path, algorithm: str, streamed: StreamedEntries | None = None
) -> str:
    """:meth:`Repository.fetch <registry.repository.base.Repository.fetch>` ``path`` into ``destination`` and
    return its ``algorithm`` digest, computed while it downloads; whatever ``fetch`` raises is raised (after the
    follower has stopped). ``streamed``: fed the bytes hashed, in order (emptied where the file was not followed
    to its end)."""
    ended = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="hash") as pool:
        following = pool.submit(_follow, destination, algorithm, ended, streamed)
        try:
            repository.fetch(path, destination)
        finally:
            ended.set()
        followed = following.result()
    if followed is not None:
        digest, size, inode = followed
        try:
            now = os.stat(destination)
        except OSError:
            now = None
        if now is not None and (now.st_size, now.st_ino) == (size, inode):
            return digest
    if streamed is not None:
        streamed.discard()
    return file_digest(destination, algorithm)  # not followed to the end: hashed again, whole


def _follow(
    destination: Path, algorithm: str, ended: threading.Event, streamed: StreamedEntries | None
) -> tuple[str, int, int] | None:
    """Hash ``destination`` while it is written (and feed it to ``streamed``), until ``ended`` is set and its end
    is read: its digest, the bytes hashed and the file's inode; ``None`` where it could not be followed."""
    try:
        return _hash(destination, algorithm, ended, streamed)
    finally:
        if streamed is not None:
            streamed.stop()


def _hash(
    destination: Path, algorithm: str, ended: threading.Event, streamed: StreamedEntries | None
) -> tuple[str, int, int] | None:
    try:
        descriptor = _open_when_there(destination, ended)
    except OSError:
        return None
    if descriptor is None:
        return None
    digest = hashlib.new(algorithm, usedforsecurity=False)
    size = 0
    try:
        inode = os.fstat(descriptor).st_ino
        while True:
            over = ended.is_set()  # looked at before the read: an empty read after it is the end
            block = os.read(descriptor, _BLOCK)
            if block:
                digest.update(block)
                size += len(block)
                if streamed is not None:
                    streamed.feed(block)
            elif over:
                return digest.hexdigest(), size, inode
            else:
                ended.wait(_PAUSE)
    except OSError:
        return None
    finally:
        os.close(descriptor)


def _open_when_there(destination: Path, ended: threading.Event) -> int | None:
    while True:
        over = ended.is_set()
        try:
            return os.open(destination, os.O_RDONLY)
        except FileNotFoundError:
            if over:
                return None
        ended.wait(_PAUSE)
