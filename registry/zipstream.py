"""The file a jar is packed into, as zipfile writes it: hashed on the way (:class:`Digesting`), or, for a reader that
uploads the jar while it is packed, also telling which bytes are final (:class:`Streaming`)."""

from __future__ import annotations

import os
import queue
import threading
from typing import BinaryIO, Protocol

from registry.checksums import ConcurrentDigester

__all__ = ["CHUNK", "Digesting", "Streaming", "Written"]

CHUNK = 1 << 20
#: The most of one entry kept in memory until zipfile has rewritten its header (see :class:`Digesting`).
_MAX_PENDING = 32 << 20
_LOCAL_HEADER = b"PK\x03\x04"


class Written(Protocol):
    """Who is told how a file is written (:class:`~registry.repository.growing.GrowingFile`)."""

    def final(self, start: int, end: int) -> None:
        """Bytes ``[start, end)`` are flushed to the file and will not change."""

    def finish(self) -> None:
        """The file is complete."""


class _JarFile:
    """What zipfile asks of the file it writes besides ``write``: the jar's own file, which its owner closes."""

    _file: BinaryIO

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        """The file is closed by its owner."""


class Digesting(_JarFile):
    """The jar's file, hashed as it is written, for one pass over the bytes.

    zipfile writes an entry's header, its data, then seeks back and rewrites the header (sizes and CRC); only
    then are the entry's bytes final. So the bytes of the entry being written are kept in memory (up to
    :data:`_MAX_PENDING`) and handed to the digests when :meth:`settle` says the entry is done; a larger entry is
    read back from the file (from the page cache) instead.
    """

    def __init__(self, file: BinaryIO, digester: ConcurrentDigester) -> None:
        self._file = file
        self._digester = digester
        self._settled = 0
        self._pending = bytearray()
        self._overflow = False

    def write(self, data: bytes, /) -> int:
        position = self._file.tell()
        written = self._file.write(data)
        offset = position - self._settled
        if offset < 0:
            raise AssertionError("zipfile rewrote an entry that was already hashed")
        if not self._overflow:
            end = offset + len(data)
            if end > len(self._pending):
                self._pending.extend(bytes(end - len(self._pending)))
            self._pending[offset:end] = data
            if len(self._pending) > _MAX_PENDING:
                self._overflow, self._pending = True, bytearray()
        return written

    def settle(self) -> None:
        """Everything written so far is final: hash it."""
        end = self._file.tell()
        if self._overflow:
            self._file.flush()
            position = self._settled
            while position < end:
                block = os.pread(self._file.fileno(), min(CHUNK, end - position), position)
                self._digester.update(block)
                position += len(block)
            self._overflow = False
        else:
            pending = bytes(self._pending[: end - self._settled])
            for start in range(0, len(pending), CHUNK):
                self._digester.update(pending[start : start + CHUNK])
        self._settled, self._pending = end, bytearray()

    def finish_digests(self) -> None:
        """Nothing to wait for: every settled byte was hashed."""


class Streaming(_JarFile):
    """The jar's file as it is written, for a reader that uploads it meanwhile: ``written`` is told which bytes are
    final as soon as they are (a MiB at a time, after a flush): every byte written, except the local header of each
    entry being written, which zipfile rewrites (sizes and CRC known) once the entry is written, final at the next
    :meth:`settle`. A rewrite of anything else raises rather than let a reader send bytes that later change.

    The digests are computed behind the writer, on a thread, from the file (the page cache) as entries settle, so
    that hashing is not in the way of the upload: the file is complete, and its last part can travel, while the
    digests finish (:meth:`finish_digests` waits for them).
    """

    def __init__(self, file: BinaryIO, digester: ConcurrentDigester, written: Written) -> None:
        self._file = file
        self._digester = digester
        self._written = written
        self._settled = 0
        self._high = 0  # the end of what was written
        self._held: list[tuple[int, int]] = []  # headers written since the last settle
        self._unreported: list[tuple[int, int]] = []
        self._unreported_size = 0
        self._reader = os.dup(file.fileno())  # still open for the hashing once the file is closed
        self._ranges: queue.Queue[tuple[int, int] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._hasher = threading.Thread(target=self._hash, name="registry-pack-digests", daemon=True)
        self._hasher.start()

    def write(self, data: bytes, /) -> int:
        start = self._file.tell()
        written = self._file.write(data)
        end = start + len(data)
        if start < self._high:
            if not any(low <= start and end <= high for low, high in self._held):
                raise AssertionError("zipfile rewrote bytes already final")
        elif bytes(data[:4]) == _LOCAL_HEADER:  # a header (or data that begins so: just held back too)
            self._held.append((start, end))
        else:
            self._final(start, end)
        self._high = max(self._high, end)
        return written

    def _final(self, start: int, end: int, force: bool = False) -> None:
        if end > start:
            self._unreported.append((start, end))
            self._unreported_size += end - start
        if self._unreported and (force or self._unreported_size >= CHUNK):
            self._file.flush()  # readers of the file see what is reported
            for low, high in self._unreported:
                self._written.final(low, high)
            self._unreported, self._unreported_size = [], 0

    def settle(self) -> None:
        """Everything written so far is final: say so, and hash it (on the thread)."""
        end = self._file.tell()
        for low, high in self._held:
            self._final(low, high)
        self._held = []
        self._final(end, end, force=True)
        self._ranges.put((self._settled, end))
        self._settled = end

    def _hash(self) -> None:
        try:
            while (span := self._ranges.get()) is not None:
                position, end = span
                while position < end:
                    block = os.pread(self._reader, min(CHUNK, end - position), position)
                    if not block:
                        raise OSError(f"the jar being packed ended at {position} bytes, before {end}")
                    self._digester.update(block)
                    position += len(block)
        except BaseException as exc:  # raised by finish_digests()
            self._error = exc
            while self._ranges.get() is not None:  # the writer's ranges, unread: it is told at finish_digests()
                pass

    def finish_digests(self) -> None:
        """Wait until every settled byte is hashed; raise what the hashing raised."""
        self._ranges.put(None)
        self._hasher.join()
        os.close(self._reader)
        if self._error is not None:
            raise self._error
