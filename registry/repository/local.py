"""A maven2 repository that is a directory tree: the embedded default (``~/.m2/repository``) or ``file://``.

Atomicity comes from the file system, not from checks: a new file is written under a temporary name and
hard-linked into place (``link`` fails if the name exists, so two deployers can never both create one path),
and ``maven-metadata.xml`` is rewritten under an exclusive ``flock`` on its directory and renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from registry._util import atomic_write, temporary_beside
from registry.checksums import digest_bytes
from registry.exceptions import ArtifactNotFound, ConfigError, RepositoryUnavailable
from registry.repository.base import PathExists, Repository, Source
from registry.repository.config import Credentials, RepositoryConfig

__all__ = ["LocalRepository"]


class LocalRepository(Repository):
    """A maven2 tree on a local (or mounted) file system."""

    #: Small files come from the page cache, mostly: beyond a few threads, reads wait for the interpreter, not
    #: the disk.
    read_width = 8

    @classmethod
    def from_config(
        cls, config: RepositoryConfig, credentials: Credentials | None = None, credential_help: str = ""
    ) -> LocalRepository:
        repository = cls(config.url, display=config.display if config.name != "local" else None)
        repository.config = config
        return repository

    def __init__(self, root: Path | str, display: str | None = None) -> None:
        if isinstance(root, str) and root.startswith("file:"):
            try:
                parsed = urlparse(root)
            except ValueError:
                raise ConfigError(f"Cannot use {root!r}: it is not a valid file:// URL.") from None
            if parsed.netloc not in ("", "localhost"):
                raise ConfigError(f"Cannot use {root!r}: only local file:// URLs (file:///path) are supported.")
            root = unquote(parsed.path)
        try:
            self.root = Path(root).expanduser().absolute()
        except RuntimeError:  # ~name of an unknown user
            raise ConfigError(f"Cannot use {str(root)!r}: no such user's home directory is known.") from None
        self.display = display or self.root.as_uri()
        self.origin = self.root.as_uri()

    def _file(self, path: str) -> Path:
        # Paths come from validated coordinates; this guard keeps a bug from ever escaping the root.
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"repository path {path!r} escapes the repository")
        return self.root / path

    def read(self, path: str) -> bytes:
        try:
            return self._file(path).read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFound(f"{path} does not exist in {self.display}.") from None
        except OSError as exc:
            raise RepositoryUnavailable(f"Cannot read {path} in {self.display}: {exc.strerror}.") from exc

    def fetch(self, path: str, destination: Path) -> None:
        try:
            shutil.copyfile(self._file(path), destination)
        except FileNotFoundError:
            raise ArtifactNotFound(f"{path} does not exist in {self.display}.") from None
        except OSError as exc:
            raise RepositoryUnavailable(f"Cannot read {path} in {self.display}: {exc.strerror}.") from exc

    def exists(self, path: str) -> bool:
        return self._file(path).is_file()

    def _parent(self, path: str) -> Path:
        target = self._file(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RepositoryUnavailable(
                f"Cannot write to {self.display}: {exc.strerror} ({target.parent}). "
                "Check that the directory is writable, or choose another repository with --repository."
            ) from exc
        return target

    @contextlib.contextmanager
    def _temporary(self, target: Path, source: Source) -> Iterator[Path]:
        with temporary_beside(target) as temporary:
            with temporary.open("wb") as out:
                if isinstance(source, bytes):
                    out.write(source)
                else:
                    with source.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
            os.chmod(temporary, 0o644)
            yield temporary

    def claim(self, directory: str) -> bool:
        target = self._file(directory)
        self._parent(directory)
        try:
            target.mkdir()
        except FileExistsError:
            return False
        except OSError as exc:
            raise RepositoryUnavailable(f"Cannot write to {self.display}: {exc.strerror} ({target}).") from exc
        return True

    def claims_folders(self) -> bool:
        return True

    def release(self, directory: str) -> None:
        try:
            self._file(directory).rmdir()  # only ever an empty folder
        except OSError as exc:
            raise RepositoryUnavailable(f"Cannot remove {directory} in {self.display}: {exc.strerror}.") from exc

    def create(self, path: str, source: Source) -> None:
        target = self._parent(path)
        with self._temporary(target, source) as temporary:
            try:
                os.link(temporary, target)
            except FileExistsError:
                raise PathExists(path, self.display) from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise RepositoryUnavailable(f"Cannot write {path} in {self.display}: {exc.strerror}.") from exc
                # File systems without hard links: an exclusive create is still atomic against rivals.
                try:
                    with target.open("xb") as out, temporary.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                except FileExistsError:
                    raise PathExists(path, self.display) from None

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        target = self._parent(path)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            fcntl.flock(directory, fcntl.LOCK_EX)
            try:
                current = target.read_bytes()
            except FileNotFoundError:
                current = None
            content = change(current)
            # Sidecars first, then the file: a reader may briefly see new sidecars with the old file, never
            # a new file whose checksums are missing. Both are only ever written under the lock.
            for extension, digest in digest_bytes(content).sidecars():
                atomic_write(target.with_name(f"{target.name}.{extension}"), digest)
            atomic_write(target, content)
            return content
        finally:
            os.close(directory)  # closing releases the lock

    def list(self, directory: str) -> list[str]:
        folder = self._file(directory.rstrip("/")) if directory.strip("/") else self.root
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise RepositoryUnavailable(f"Cannot list {directory or '/'} in {self.display}: {exc.strerror}.") from exc
        return sorted(
            e.name + "/" if e.is_dir(follow_symlinks=False) else e.name for e in entries if not e.name.startswith(".")
        )

    def missing(self) -> bool:
        return not self.root.is_dir()

    def delete(self, path: str) -> None:
        self._file(path).unlink(missing_ok=True)

    def modified(self, path: str) -> float | None:
        try:
            return self._file(path).lstat().st_mtime
        except OSError:
            return None

    def leftovers(self, directory: str, names: tuple[str, ...]) -> tuple[str, ...]:
        prefixes = tuple(f".{name}." for name in names)
        try:
            entries = os.listdir(self._file(directory))
        except OSError:
            return ()
        return tuple(sorted(n for n in entries if n.startswith(prefixes) and n.endswith(".part")))
