"""One cache for what was verified, keyed by digest: :class:`Cache`.

A release never changes, so what was verified once is kept under its coordinate *and* its checksum
(``CACHE/com/acme/churn/1.2.7/sha512-<digest>/`` for an extracted model,
``CACHE/cards/com/acme/churn/sha512-<digest>-churn-1.2.7-model.json`` for a card or a record); two repositories
holding different bytes under one coordinate can never be confused. Every entry is re-verified (small files) or
complete (models) when used.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from registry._util import atomic_write
from registry.checksums import STRONGEST_FIRST
from registry.coordinates import Coordinate, Module

__all__ = ["ABSENT", "Cache", "CacheNote"]


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

    Files read many at once (every card of an artifact,
    :func:`~registry.store.verified.read_many_verified`) are kept together in the artifact's pack
    (``CACHE/cards/<artifact>/pack``): records ``NAME ALGORITHM DIGEST LENGTH``, a newline, the bytes and a
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
    #: Notes held back by :meth:`notes_together` (how many are open, and the notes by artifact).
    _holding: list[int] = field(default_factory=lambda: [0], init=False, repr=False, compare=False)
    _held: dict[Module, list[tuple[tuple[str, str, str], bytes]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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

    def note(self, coordinate: Coordinate, name: str, algorithm: str, digest: str) -> CacheNote:
        """The note kept about a cached small file (such as the check of its signature)."""
        return CacheNote(self, coordinate.module, (name, algorithm, digest))

    def _add(self, module: Module, kind: str, batch: Sequence[tuple[tuple[str, str, str], bytes]]) -> None:
        """Append records to one of an artifact's packs (written again whole where it was damaged); failing to
        cache never fails the read. Notes written within :meth:`notes_together` are appended when it ends."""
        pack = self._pack(module, kind)
        with self._lock:
            damaged = pack.damaged
            pack.records.update(batch)
            pack.damaged = False
            if kind == _NOTES and self._holding[0] and not damaged:
                self._held.setdefault(module, []).extend(batch)
                return
            records = list(pack.records.items()) if damaged else batch
        self._write(module, kind, records, whole=damaged)

    @contextlib.contextmanager
    def notes_together(self) -> Iterator[None]:
        """Hold back the notes written meanwhile (:meth:`CacheNote.write_bytes`), read back at once as ever, and
        append them in one ``write`` per artifact at the end: a catalog notes the check of every card."""
        with self._lock:
            self._holding[0] += 1
        try:
            yield
        finally:
            with self._lock:
                self._holding[0] -= 1
                held = dict(self._held) if not self._holding[0] else {}
                if held:
                    self._held.clear()
            for module, batch in held.items():
                self._write(module, _NOTES, batch, whole=False)

    def _write(
        self, module: Module, kind: str, records: Sequence[tuple[tuple[str, str, str], bytes]], *, whole: bool
    ) -> None:
        text = b"".join(
            b"%s %s %s %d\n%s\n" % (name.encode(), algorithm.encode(), digest.encode(), len(data), data)
            for (name, algorithm, digest), data in records
        )
        target = self._pack_file(module, kind)
        try:
            if whole:
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
class CacheNote:
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
