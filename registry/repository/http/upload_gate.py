"""An upload body whose end waits for other files: the last byte of a PUT is held back until the files it must follow
are in place (a server makes a file visible only once its body is complete), for at most :data:`GATE_PATIENCE`;
every block read is reported to the progress reporter."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO, Any

from registry.exceptions import RepositoryUnavailable
from registry.repository.http.requests_errors import Dropped

__all__ = ["GATE_PATIENCE", "CountingBody", "Gate", "HeldTooLong"]


#: How long the end of an upload body is held back waiting for the files it must follow before the upload is
#: broken off and sent again later (seconds): well within the body timeouts of servers.
GATE_PATIENCE = 5.0


class HeldTooLong(Exception):
    """The end of a body was held back longer than :data:`GATE_PATIENCE`."""


class Gate:
    """``ready()`` run once on a thread, waited for with a limit; its failure is raised to every waiter."""

    def __init__(self, ready: Callable[[], None]) -> None:
        self._done = threading.Event()
        self._error: BaseException | None = None

        def run() -> None:
            try:
                ready()
            except BaseException as exc:  # handed to the waiting upload
                self._error = exc
            finally:
                self._done.set()

        threading.Thread(target=run, name="upload-gate", daemon=True).start()

    def wait(self, limit: float | None) -> None:
        if not self._done.wait(limit):
            raise HeldTooLong
        if isinstance(self._error, Dropped):  # another request's, not the waiting upload's to send again
            raise RepositoryUnavailable(str(self._error)) from self._error
        if self._error is not None:
            raise self._error


class CountingBody:
    """A file wrapper that reports each block read (to the progress reporter) and, given ``ready``, holds back
    the last byte of the ``size`` bytes until ``ready()`` has returned."""

    def __init__(self, stream: IO[bytes], advance: Any, size: int = 0, ready: Callable[[], None] | None = None) -> None:
        self._stream = stream
        self._advance = advance
        self._size = size
        self._ready = ready
        self._sent = 0

    def read(self, size: int = -1) -> bytes:
        if self._ready is not None:
            remaining = self._size - self._sent
            if remaining <= 1 or size < 0:  # a read of everything: the end comes with it
                ready, self._ready = self._ready, None
                ready()
            elif size >= remaining:
                size = remaining - 1
        data = self._stream.read(size)
        self._sent += len(data)
        self._advance(len(data))
        return data

    def __len__(self) -> int:  # requests uses it for Content-Length
        position = self._stream.tell()
        self._stream.seek(0, 2)
        end = self._stream.tell()
        self._stream.seek(position)
        return end - position
