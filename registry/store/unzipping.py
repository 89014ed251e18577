"""A jar's large stored entries written out while it downloads: :class:`StreamedEntries` is fed the jar's bytes in
order (by the thread that hashes them, :func:`~registry.store.following.fetch_hashed`) and writes each large entry
under ``model/`` that the jar stores uncompressed (Spark's parquet files: most of a model's bytes) to a numbered
file of its own, as its bytes go by. Nothing is trusted from it: once the jar is verified,
:func:`~registry.archive.extract_model` checks its central directory as ever, and only where an entry of that
directory starts at the offset, with the name and the size, of one written here does it rename that file into
place instead of copying the entry (see its ``ready``). Anything it does not expect (a data descriptor, ZIP64, a
prefix before the first entry) ends the streaming quietly; those entries are extracted after the download."""

from __future__ import annotations

import os
import struct
from pathlib import Path

__all__ = ["StreamedEntries"]

_HEADER = struct.Struct("<4sHHHHHIIIHH")  # a local file header, up to its name
_SIGNATURE = b"PK\x03\x04"
_AT_LEAST = 256 << 10  # smaller entries are extracted after the download: a file each costs more than it saves


class StreamedEntries:
    """Entries written so far, by the offset of their local header: ``(name, size, file)``; see the module."""

    def __init__(self, folder: Path, at_least: int = _AT_LEAST) -> None:
        self.folder = folder
        self.at_least = at_least
        self.entries: dict[int, tuple[str, int, Path]] = {}
        self._position = 0  # of the next byte fed
        self._header = bytearray()
        self._skip = 0  # bytes of an entry not written out
        self._left = 0  # bytes of the entry being written
        self._out: int | None = None
        self._current = -1
        self._on = True

    def feed(self, block: bytes) -> None:
        """The jar's next bytes."""
        if not self._on:
            return
        try:
            self._feed(memoryview(block))
        except (OSError, UnicodeDecodeError):
            self.stop()

    def stop(self) -> None:
        """Stream no more; an entry not written to its end is forgotten."""
        self._on = False
        if self._out is not None:
            os.close(self._out)
            self._out = None
            self.entries.pop(self._current, None)

    def discard(self) -> None:
        """Forget every entry (the bytes fed were not those of the file in the end)."""
        self.stop()
        self.entries.clear()

    def _feed(self, view: memoryview) -> None:
        while view and self._on:
            if self._left:
                written = os.write(self._out, view[: self._left])  # type: ignore[arg-type]
                view, self._left, self._position = view[written:], self._left - written, self._position + written
                if not self._left:
                    os.close(self._out)  # type: ignore[arg-type]
                    self._out = None
            elif self._skip:
                skipped = min(self._skip, len(view))
                view, self._skip, self._position = view[skipped:], self._skip - skipped, self._position + skipped
            else:
                view = self._read_header(view)

    def _read_header(self, view: memoryview) -> memoryview:
        need = _HEADER.size
        if len(self._header) >= _HEADER.size:
            fields = _HEADER.unpack_from(self._header)
            need += fields[9] + fields[10]
        taken = min(need - len(self._header), len(view))
        self._header += view[:taken]
        self._position += taken
        if len(self._header) == _HEADER.size:
            signature, _, flags, _, _, _, _, _, _, length, extra = _HEADER.unpack_from(self._header)
            if signature != _SIGNATURE or flags & 0b1001:
                self.stop()  # the central directory, or what this does not follow (encryption, data descriptors)
                return view[taken:]
            need = _HEADER.size + length + extra
        if len(self._header) == need:
            self._start_entry()
        return view[taken:]

    def _start_entry(self) -> None:
        _, _, flags, method, _, _, _, packed, size, length, _ = _HEADER.unpack_from(self._header)
        name = bytes(self._header[_HEADER.size : _HEADER.size + length]).decode("utf-8" if flags & 0x800 else "cp437")
        if 0xFFFFFFFF in (packed, size):  # ZIP64 (as the registry packs): both sizes in the extra field
            size, packed = _zip64_sizes(bytes(self._header[_HEADER.size + length :]))
        at = self._position - len(self._header)
        self._header.clear()
        if size < 0:
            self.stop()
            return
        if method != 0 or packed != size or size < self.at_least or not name.startswith("model/"):
            self._skip = packed
            return
        target = self.folder / str(len(self.entries))
        self._out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self._current, self._left = at, size
        self.entries[at] = (name, size, target)


def _zip64_sizes(extra: bytes) -> tuple[int, int]:
    """The uncompressed and compressed sizes a local header's ZIP64 extra field gives; ``(-1, -1)`` if none."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        if kind == 1 and length >= 16 and at + 4 + length <= len(extra):
            size, packed = struct.unpack_from("<QQ", extra, at + 4)
            return size, packed
        at += 4 + length
    return -1, -1
