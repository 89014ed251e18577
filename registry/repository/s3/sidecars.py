"""The checksum files of a file rewritten in place (``maven-metadata.xml``, the logs beside it): written with each
write of it, then checked against what it holds, so that a slower writer never leaves them stale:
:class:`Sidecars`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from registry.checksums import digest_bytes

__all__ = ["Sidecars"]

#: How often the sidecars are written again while other writers keep rewriting the file.
MAX_ROUNDS = 10


class Sidecars:
    """The sidecars of an object store's mutable files, through its ``put(path, content, condition) -> ETag``
    (a ``ClientError`` raised as it is where there is a condition), ``head(path) -> answer | None`` and
    ``get(path) -> (ETag, content)``."""

    def __init__(
        self,
        put: Callable[[str, bytes, dict[str, str]], str],
        head: Callable[[str], dict[str, Any] | None],
        get: Callable[[str], tuple[str, bytes]],
    ) -> None:
        self._put = put
        self._head = head
        self._get = get

    def put_with(self, path: str, content: bytes, condition: dict[str, str]) -> str:
        """The conditional write of ``path`` and, at the same time, those of its checksum files: one round trip,
        not two. Returns the file's new ETag once every write has ended (so that no sidecar of an attempt lands
        after the next attempt's), raising the first failure, the file's own first.

        Safe because the caller then checks (:meth:`write`, ``written=True``) that the file still holds what this
        wrote: where a later writer's sidecars landed before these, this writer wrote the file first and finds it
        rewritten, so it writes the sidecars of what it now holds. Where the file's write is refused (412: another
        writer won), these sidecars describe content that was never written; the caller always tries again,
        writing the file and its sidecars last, or, if it gives up, repairs them (:meth:`repair`). A crash in
        between leaves them stale until the next update, as a crash between the file's write and its sidecars'
        always could."""
        sidecars = list(digest_bytes(content).sidecars())
        with ThreadPoolExecutor(1 + len(sidecars)) as pool:
            written = pool.submit(self._put, path, content, condition)
            writes = [pool.submit(self._put, f"{path}.{ext}", digest, {}) for ext, digest in sidecars]
            for write in [written, *writes]:
                write.exception()  # waits for its end, whatever it is
        for write in [written, *writes]:
            write.result()
        return written.result()

    def repair(self, path: str) -> None:
        """After an update that wrote sidecars but not (for certain) the file: the sidecars of what the file holds
        now, best effort (the failure being reported is the update's)."""
        with contextlib.suppress(Exception):
            etag, content = self._get(path)
            self.write(path, content, etag)

    def write(self, path: str, content: bytes, etag: str | None = None, *, written: bool = False) -> None:
        """Write the checksum files of ``path``'s ``content`` (``written``: they are written already, with it).
        Given its ``etag``, then check that ``path`` was not rewritten meanwhile: a writer whose sidecars land after
        a later writer's would leave them wrong, so while the file changed, the sidecars of what it now holds are
        written again."""
        for _ in range(MAX_ROUNDS):
            if not written:
                sidecars = list(digest_bytes(content).sidecars())
                with ThreadPoolExecutor(len(sidecars)) as pool:
                    for write in [pool.submit(self._put, f"{path}.{ext}", digest, {}) for ext, digest in sidecars]:
                        write.result()
            written = False
            if etag is None:
                return
            head = self._head(path)
            if head is None or head.get("ETag") == etag:
                return
            etag, content = self._get(path)
