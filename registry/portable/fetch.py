"""Find a release's twin by coordinate, download it and verify it before anything loads it."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from registry.coordinates import Coordinate, request_of
from registry.exceptions import ArtifactNotFound
from registry.portable.layout import CLASSIFIER, EXTENSION, twin_path
from registry.repository.base import Repository
from registry.settings import Settings
from registry.store import Cache, read_verified, select_version
from registry.trust import check_signature, opening

if TYPE_CHECKING:
    from registry.portable.run import Twin

__all__ = ["FetchedTwin", "fetch_twin", "resolve", "save_twin"]


@dataclass(frozen=True)
class FetchedTwin:
    """A twin's verified bytes, the release they belong to, and its signer where it is signed."""

    coordinate: Coordinate
    data: bytes
    signer: str | None
    #: Where it came from (the repository's display name, as events name it).
    repository: str = ""

    @property
    def file_name(self) -> str:
        """``churn-1.2.7-onnx.onnx``."""
        return self.coordinate.file_name(EXTENSION, CLASSIFIER)


def fetch_twin(
    spec: str | Coordinate,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    cache_dir: Path | None = None,
) -> FetchedTwin:
    """The twin of the release ``spec`` selects (``com.acme:churn:latest.release``), verified against its checksum
    and, where the repository's signature policy asks for one or the file is signed, its ``.asc`` (the same checks
    as :func:`registry.resolve.resolve` makes of the jar). Nothing is loaded before both passed.

    :raises ArtifactNotFound: no such release, or the release has no twin.
    :raises IntegrityError: the twin does not match its checksum. :raises SignatureError: its signature is bad,
        by a key not trusted, or missing where the policy requires one.
    """
    module, selector = request_of(spec)
    with opening(repository, settings) as opened:
        repo, active = opened.repository, opened.settings
        cache = Cache(cache_dir or active.cache_dir)
        coordinate = select_version(module, selector, repo)
        path = twin_path(coordinate)
        name = coordinate.file_name(EXTENSION, CLASSIFIER)
        try:
            data = read_verified(repo, coordinate, path, name, cache=cache)
        except ArtifactNotFound:
            raise ArtifactNotFound(
                f"{coordinate} has no portable twin ({name} is not in {repo.display}): deploy it with "
                "portable='onnx' to attach one."
            ) from None
        what = f"{name} (the ONNX twin of {coordinate}) in {repo.display}"
        check = check_signature(repo, path, data, opened.policy, opened.gnupghome, what)
    return FetchedTwin(coordinate, data, check.signer if check is not None else None, repo.display)


def resolve(
    spec: str | Coordinate,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    cache_dir: Path | None = None,
    threads: int = 1,
) -> Twin:
    """The twin of a release, verified (:func:`fetch_twin`) and loaded on onnxruntime: ``predict(records)``."""
    from registry.portable.run import Twin  # onnxruntime: only once a twin is to be loaded

    fetched = fetch_twin(spec, repository=repository, settings=settings, cache_dir=cache_dir)
    return Twin(fetched.data, coordinate=str(fetched.coordinate), name=fetched.file_name, threads=threads)


def save_twin(fetched: FetchedTwin, directory: Path) -> Path:
    """Write the verified twin into ``directory`` (created if needed) under its Maven name, atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / fetched.file_name
    handle, staging = tempfile.mkstemp(prefix=f".{fetched.file_name}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(fetched.data)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return target
