"""A file still being written, read as its bytes become final: :class:`GrowingFile` (the jar while it is packed,
its parts uploaded meanwhile)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["Abandoned", "GrowingFile"]


class Abandoned(Exception):
    """The writer of a :class:`GrowingFile` failed: the file will never be complete (the writer raises why)."""


class GrowingFile:
    """The file ``path``, which one writer is still writing (not necessarily in order: a zip's entry headers are
    rewritten once the entry is written) while a reader uploads the parts of it already final.

    The writer says which bytes are final (written, flushed, never to change) with :meth:`final`, then
    :meth:`finish` (or :meth:`fail`), and its caller :meth:`settle` once what goes with the file is made too.
    The reader waits with :meth:`wait_beyond`, :meth:`parts` and :meth:`wait_settled`, and may start what it needs
    earlier on the strength of :attr:`expected`.
    """

    def __init__(self, path: Path, expected: int = 0) -> None:
        self.path = path
        #: The size the writer expects the file to reach, roughly (a hint: the size of what it packs).
        self.expected = expected
        self._changed = threading.Condition()
        self._final: list[tuple[int, int]] = []  # disjoint, sorted, not touching: [start, end)
        self._size: int | None = None
        self._failed = False
        self._settled = False
        self._abandoned = False  # failed before settle(), complete or not

    # -- the writer ---------------------------------------------------------------------------------------

    def final(self, start: int, end: int) -> None:
        """Bytes ``[start, end)`` of the file are written (flushed) and final."""
        if end <= start:
            return
        with self._changed:
            merged: list[tuple[int, int]] = []
            for low, high in self._final:
                if high < start or low > end:
                    merged.append((low, high))
                else:
                    start, end = min(start, low), max(end, high)
            merged.append((start, end))
            self._final = sorted(merged)
            self._changed.notify_all()

    def finish(self) -> None:
        """The file is complete (closed): every byte of it is final."""
        size = self.path.stat().st_size
        with self._changed:
            self._size = size
            self._final = [(0, size)] if size else []
            self._changed.notify_all()

    def settle(self) -> None:
        """The file is complete and so is what goes with it (a jar's checksum and signature files are on their
        way): a reader may now start what waits for all of it (:meth:`wait_settled`)."""
        with self._changed:
            self._settled = True
            self._changed.notify_all()

    def fail(self) -> None:
        """The writer failed: the file will not be completed (a reader waiting raises :class:`Abandoned`)."""
        with self._changed:
            if self._size is None:
                self._failed = True
            self._abandoned = not self._settled
            self._changed.notify_all()

    # -- the reader ---------------------------------------------------------------------------------------

    def _wait(self, done: Callable[[], bool]) -> None:
        """Wait, holding the lock, until ``done()`` or the file is complete; :class:`Abandoned` if it never
        will be."""
        while not done() and self._size is None and not self._failed:
            self._changed.wait()
        if self._failed:
            raise Abandoned(f"{self.path.name} was not completed")

    def wait(self) -> None:
        """Wait until the file is complete; :class:`Abandoned` if it never will be."""
        with self._changed:
            self._wait(lambda: False)

    def wait_settled(self) -> None:
        """Wait until :meth:`settle`; :class:`Abandoned` if the file or what goes with it never will be."""
        with self._changed:
            while not self._settled and not self._abandoned:
                self._changed.wait()
            if self._abandoned:
                raise Abandoned(f"{self.path.name} was not completed")

    def wait_beyond(self, offset: int) -> int | None:
        """Wait until a final byte lies past ``offset`` (return ``None``: the file is larger than ``offset``)
        or the file is complete (return its size, if it is not larger)."""
        with self._changed:
            self._wait(lambda: bool(self._final) and self._final[-1][1] > offset)
            return self._size if self._size is not None and self._size <= offset else None

    def parts(self, size: int) -> Iterator[tuple[int, int, int]]:
        """The file's parts of ``size`` bytes (the last one shorter) as ``(number, start, end)``, numbered from 1,
        each as soon as all of its bytes are final, in whatever order they become so; ends once every part was
        given. Raises :class:`Abandoned` if the writer fails meanwhile."""
        given: set[int] = set()
        while True:
            with self._changed:
                self._wait(lambda: bool(self._ready(size, given)))
                ready = self._ready(size, given)
                complete = self._size is not None
            for number, start, end in ready:
                given.add(number)
                yield number, start, end
            if complete and not self._ready(size, given):
                return

    def _ready(self, size: int, given: set[int]) -> list[tuple[int, int, int]]:
        """The parts not yet given whose bytes are all final (called holding the lock)."""
        found = []
        for low, high in self._final:
            for index in range(low // size, -(-high // size)):
                start, end = index * size, (index + 1) * size
                if self._size is not None:
                    end = min(end, self._size)
                if index + 1 not in given and low <= start and end <= high and start < end:
                    found.append((index + 1, start, end))
        return found
