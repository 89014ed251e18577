"""Copies of mutable files (``maven-metadata.xml``) as a repository read them back, or wrote them, just after an
update: the next read of the file within :data:`READ_BACK_SECONDS` is answered from here, once, so a deploy does not
read at once what it has just written (a server's cache or a replica may still serve the previous version)."""

from __future__ import annotations

import threading
import time

__all__ = ["READ_BACK_SECONDS", "ReadBackCopies"]

#: How long a copy answers the next read of its file.
READ_BACK_SECONDS = 5.0


class ReadBackCopies:
    """The copies one repository keeps; thread-safe."""

    def __init__(self) -> None:
        self._copies: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def keep(self, path: str, content: bytes) -> None:
        with self._lock:
            self._copies[path] = (time.monotonic(), content)

    def take(self, path: str) -> bytes | None:
        """The copy of ``path`` kept within :data:`READ_BACK_SECONDS`, if any; it is used up."""
        with self._lock:
            kept = self._copies.pop(path, None)
        return kept[1] if kept is not None and time.monotonic() - kept[0] < READ_BACK_SECONDS else None

    def forget(self, path: str) -> None:
        with self._lock:
            self._copies.pop(path, None)
