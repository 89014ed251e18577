"""Kill a deploying process with a real SIGKILL at a chosen point, without any hook in the production code.

The child process deploys through :class:`CrashingRepository`, a test-only ``Repository`` that delegates every
method to the real repository and sends itself SIGKILL when the chosen operation on the chosen path happens:
before it, after it, half-way through streaming the file (``mid``), or inside the read-modify-write of an
``update`` (``inside``: the new metadata is computed, nothing is written yet). SIGKILL cannot be caught:
no ``finally`` runs, no connection is closed politely, a local temporary file stays where it was.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from registry.deploy import deploy
from registry.repository.base import Repository, Source
from registry.repository.growing import GrowingFile

__all__ = ["STAGES", "CrashingRepository", "Stage", "crash_deploy"]


@dataclass(frozen=True)
class Stage:
    """Where to die: ``operation`` on a path ending with ``suffix``, ``when`` relative to it."""

    name: str
    operation: str  # claim, create, update
    suffix: str
    when: str  # before, after, mid, inside


STAGES = (
    Stage("after the claim", "claim", "", "after"),
    Stage("after the POM", "create", ".pom", "after"),
    Stage("before the card, the jar streaming", "create", "-model.json", "before"),
    Stage("after the card", "create", "-model.json", "after"),
    Stage("after a checksum of the jar", "create", ".jar.sha1", "after"),
    Stage("before the jar", "create", ".jar", "before"),
    Stage("mid-jar", "create", ".jar", "mid"),
    Stage("after the jar", "create", ".jar", "after"),
    Stage("inside the metadata update", "update", "maven-metadata.xml", "inside"),
    Stage("after the metadata update", "update", "maven-metadata.xml", "after"),
)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _DyingStream:
    """A binary file that kills the process once half of it has been read."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._limit = limit

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self._stream.tell() >= self._limit:
            _die()
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __enter__(self) -> _DyingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


class _DyingPath(type(Path())):  # type: ignore[misc]
    """A path whose ``open()`` gives a stream that kills the process half-way through the file."""

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        stream = super().open(mode, *args, **kwargs)
        return _DyingStream(stream, max(1, self.stat().st_size // 2)) if "r" in mode else stream


class CrashingRepository(Repository):
    """Delegates everything to ``inner`` (its concurrent, gated upload of the jar included); SIGKILLs this
    process at ``stage``, whichever thread gets there."""

    def __init__(self, inner: Repository, stage: Stage) -> None:
        self.inner = inner
        self.stage = stage
        self.display = inner.display
        self.origin = inner.origin
        self.uploads_while_written = inner.uploads_while_written  # S3: the jar's parts travel while it is packed

    def _at(self, operation: str, path: str, when: str) -> None:
        stage = self.stage
        if (operation, when) == (stage.operation, stage.when) and path.endswith(stage.suffix):
            _die()

    def read(self, path: str) -> bytes:
        return self.inner.read(path)

    def fetch(self, path: str, destination: Path) -> None:
        self.inner.fetch(path, destination)

    def exists(self, path: str) -> bool:
        return self.inner.exists(path)

    def claim(self, directory: str) -> bool:
        self._at("claim", directory, "before")
        claimed = self.inner.claim(directory)
        self._at("claim", directory, "after")
        return claimed

    def create(self, path: str, source: Source) -> None:
        self._at("create", path, "before")
        self.inner.create(path, self._dying(path, source))
        self._at("create", path, "after")

    def create_after(self, path: str, source: Source, ready: Callable[[], None]) -> None:
        self._at("create", path, "before")
        self.inner.create_after(path, self._dying(path, source), ready)
        self._at("create", path, "after")

    def create_growing(self, path: str, growing: GrowingFile, ready: Callable[[], None]) -> None:
        self._at("create", path, "before")
        if isinstance(dying := self._dying(path, growing.path), _DyingPath):
            growing.path = dying  # its parts are read from it
        self.inner.create_growing(path, growing, ready)
        self._at("create", path, "after")

    def _dying(self, path: str, source: Source) -> Source:
        mid = (self.stage.operation, self.stage.when) == ("create", "mid") and path.endswith(self.stage.suffix)
        return _DyingPath(source) if mid and isinstance(source, Path) else source

    def claims_folders(self) -> bool:
        return self.inner.claims_folders()

    def prepare_writes(self) -> None:
        self.inner.prepare_writes()

    def begin_create(self, path: str, expected: int) -> None:
        self.inner.begin_create(path, expected)

    def abandon_create(self, path: str) -> None:
        self.inner.abandon_create(path)

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        self._at("update", path, "before")

        def changing(current: bytes | None) -> bytes:
            content = change(current)
            self._at("update", path, "inside")
            return content

        written = self.inner.update(path, changing)
        self._at("update", path, "after")
        return written

    def list(self, directory: str) -> list[str]:
        return self.inner.list(directory)

    def delete(self, path: str) -> None:
        self.inner.delete(path)

    def close(self) -> None:
        self.inner.close()


def _child(opener: Callable[[], Repository], model: Path, target: str, stage: Stage, scratch: Path) -> None:
    tempfile.tempdir = str(scratch)  # what the killed deploy leaves in its temporary directory stays in the test's
    repository = CrashingRepository(opener(), stage)
    deploy(model, target, repository=repository)
    os._exit(3)  # the stage never came: the parent reports it


def crash_deploy(opener: Callable[[], Repository], model: Path, target: str, stage: Stage, scratch: Path) -> None:
    """Deploy ``model`` to ``target`` in a forked child that SIGKILLs itself at ``stage``; assert that it did.

    ``opener`` runs in the child, so that the child has its own connections.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("fork")  # a fork needs no re-import: each crash costs milliseconds
    process = context.Process(target=_child, args=(opener, model, target, stage, scratch))
    process.start()
    process.join(timeout=60)
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError(f"the deploy that was to die {stage.name} hung")
    assert process.exitcode == -signal.SIGKILL, f"the deploy did not die {stage.name} (exit {process.exitcode})"
