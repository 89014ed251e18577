"""What an upload to an object store reads: sources as files, with progress reported; the ETag S3 computes, and
whether an object holds a source."""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from registry.checksums import file_digest
from registry.repository.base import Source

__all__ = [
    "SMALL_BODY",
    "HeldBack",
    "NotReady",
    "Reporting",
    "as_bytes",
    "holds",
    "md5_etag",
    "multipart_etag",
    "once",
    "opened",
    "shape_bodies",
]

#: Bodies up to this size are sent without waiting for ``100 Continue``.
SMALL_BODY = 1 << 20


def md5_etag(data: bytes) -> str:
    """The ETag S3 gives ``data`` written in one PutObject (unencrypted or SSE-S3): its MD5."""
    return hashlib.md5(data).hexdigest()  # noqa: S324 - S3's ETag, not a security digest


def multipart_etag(source: Path, part_size: int) -> str:
    """The ETag S3 gives ``source`` uploaded in parts of ``part_size``: the MD5 of the parts' MD5s, and their
    number."""
    digests = []
    with source.open("rb") as file:
        while block := file.read(part_size):
            digests.append(hashlib.md5(block).digest())  # noqa: S324 - S3's ETag, not a security digest
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"  # noqa: S324


def as_bytes(source: Source) -> bytes:
    return source if isinstance(source, bytes) else source.read_bytes()


@contextlib.contextmanager
def opened(source: Source) -> Iterator[IO[bytes]]:
    """``source`` as an open binary file."""
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    else:
        with source.open("rb") as file:
            yield file


class Reporting:
    """A file wrapper that reports each block read the first time (botocore may read a body twice: once to sign
    it, once to send it)."""

    def __init__(self, file: IO[bytes], advance: Callable[[int], None]) -> None:
        self._file = file
        self._advance = advance
        self._high = 0

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        position = self._file.tell()
        if position > self._high:
            self._advance(position - self._high)
            self._high = position
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def __len__(self) -> int:  # botocore asks for the length of what it sends
        position = self._file.tell()
        end = self._file.seek(0, 2)
        self._file.seek(position)
        return end - position


class NotReady(Exception):
    """What :class:`HeldBack` raises, into the request sending it, when ``ready()`` raised: the request ends with
    its body short, so the server creates nothing."""


class HeldBack:
    """A body (a :class:`Reporting` file of ``size`` bytes) whose last :data:`HELD` bytes are read only once
    ``ready()`` has returned (called by the first read that needs them): the bytes travel while what must exist
    first is written, and the object is complete, and so visible, only after. If ``ready`` raises, reading raises
    :class:`NotReady` (and at once in a retry of the request). :attr:`holding` is off while botocore reads the
    body to sign it (its SHA-256: on http://, or without a Content-MD5; the file is complete, only its sending
    is held back), on again before it is sent."""

    HELD = 64 << 10

    def __init__(self, file: Reporting, size: int, ready: Callable[[], None]) -> None:
        self._file = file
        self._size = size
        self._ready = ready
        self._done = False
        self.holding = True
        #: What ``ready`` raised.
        self.failed: BaseException | None = None

    def _wait(self) -> None:
        if not self._done:
            try:
                self._ready()
            except BaseException as exc:
                self.failed = exc
                raise NotReady from exc
            self._done = True

    def read(self, size: int = -1) -> bytes:
        if self.failed is not None:  # a retry of the request: it ends at once
            raise NotReady from self.failed
        if self.holding:
            free = self._size - self.HELD - self._file.tell()
            if free <= 0:
                self._wait()
            elif size < 0 or size > free:
                size = free
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def __len__(self) -> int:
        return len(self._file)


def once(action: Callable[[], None]) -> Callable[[], None]:
    """``action``, run by the first call only; every call returns or raises as that one did."""
    outcome: list[BaseException | None] = []
    lock = threading.Lock()

    def run() -> None:
        with lock:
            if not outcome:
                try:
                    action()
                except BaseException as exc:
                    outcome.append(exc)
                else:
                    outcome.append(None)
        if outcome[0] is not None:
            raise outcome[0]

    return run


def holds(head: dict[str, Any] | None, source: Source, etag: Callable[[], str], fetch: Callable[[Path], None]) -> bool:
    """Whether the object whose HeadObject answer is ``head`` (``None``: absent) holds ``source``: its ETag is the
    one S3 computes for it (``etag()``), or (where the ETag is not an MD5: encrypted with KMS, or another server's)
    its bytes, as ``fetch(destination)`` downloads them, are the same."""
    if head is None:
        return False
    if str(head.get("ETag", "")).strip('"') == etag():
        return True
    if head.get("ContentLength") != (len(source) if isinstance(source, bytes) else source.stat().st_size):
        return False
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "copy"
        fetch(copy)
        return file_digest(copy, "sha256") == (
            hashlib.sha256(source).hexdigest() if isinstance(source, bytes) else file_digest(source, "sha256")
        )


def shape_bodies(events: Any) -> None:
    """Register, with an S3 client's ``events``, how its request bodies are sent: a small one with its headers, a
    :class:`HeldBack` one read whole to be signed and held back as it is sent."""
    events.register("before-send.s3", _send_small_bodies_at_once)
    events.register("before-sign.s3.PutObject", _signing)
    events.register("before-send.s3.PutObject", _sending)


def _send_small_bodies_at_once(request: Any, **_: Any) -> None:
    """Send a small body with its headers rather than after ``Expect: 100-continue`` and the server's answer: a
    round trip less for each checksum file, POM, card and metadata (``Expect`` is not signed)."""
    if int(request.headers.get("Content-Length") or 0) <= SMALL_BODY:
        request.headers.pop("Expect", None)


def _signing(request: Any, **_: Any) -> None:
    """A :class:`HeldBack` body is read whole to be signed (its SHA-256, on http:// or without a Content-MD5)..."""
    if isinstance(request.data, HeldBack):
        request.data.holding = False


def _sending(request: Any, **_: Any) -> None:
    """...and held back again as it is sent."""
    if isinstance(request.body, HeldBack):
        request.body.holding = True
