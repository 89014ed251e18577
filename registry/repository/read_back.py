"""What answers a repository's next read of a file before it asks the server: copies of mutable files
(``maven-metadata.xml``) as a repository read them back, or wrote them, just after an update (the next read within
:data:`READ_BACK_SECONDS`, once, so a deploy does not read at once what it has just written: a server's cache or a
replica may still serve the previous version); and reads started ahead of their use (``Repository.read_ahead``),
whose answer serves the next read of their path within :data:`AHEAD_KEPT`, once."""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

__all__ = ["AHEAD_KEPT", "READ_BACK_SECONDS", "ReadBackCopies", "ReadsAhead"]

#: How long a copy answers the next read of its file.
READ_BACK_SECONDS = 5.0
#: How long an answer read ahead may serve the read it was started for, in seconds from its sending: the command
#: that started it reads it in the next moments; a read later asks again.
AHEAD_KEPT = 10.0
_Answer = TypeVar("_Answer")


class ReadsAhead(Generic[_Answer]):
    """Reads one repository started ahead of their use, by path, each as what gives its answer (a function to
    call, a future); thread-safe."""

    def __init__(self) -> None:
        self._started: dict[str, tuple[float, _Answer]] = {}
        self._lock = threading.Lock()

    def keep(self, path: str, answer: _Answer, sent: float) -> None:
        """``answer`` of the read of ``path`` sent at ``sent`` (``time.monotonic()``)."""
        with self._lock:
            self._started[path] = (sent, answer)

    def take(self, path: str) -> _Answer | None:
        """The answer of the read of ``path`` sent within :data:`AHEAD_KEPT`, if any; it is used up."""
        with self._lock:
            started = self._started.pop(path, None)
        return started[1] if started is not None and time.monotonic() - started[0] < AHEAD_KEPT else None


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
