"""The released versions of an artifact, as ``registry versions`` lists them: those its metadata lists, and those
yanked from it (no longer listed, still resolvable by their exact coordinate), oldest first."""

from __future__ import annotations

from dataclasses import dataclass

from registry.coordinates import Module
from registry.repository.base import Repository
from registry.repository.names import never_released
from registry.settings import Settings, using_repository
from registry.store import read_listings_ahead, read_metadata, read_yanks
from registry.versions import Version
from registry.withdrawal import YankEvent

__all__ = ["Release", "Releases", "list_releases"]


@dataclass(frozen=True)
class Release:
    """A released version, and its yank where it was yanked."""

    version: Version
    yanked: YankEvent | None = None


@dataclass(frozen=True)
class Releases:
    """Every release of an artifact, oldest first, and the versions its metadata lists that are not of the form
    MAJOR.MINOR.BUILD (``foreign``: deployed by other tools; selectors never pick them)."""

    module: Module
    releases: tuple[Release, ...]
    foreign: tuple[str, ...] = ()


def list_releases(
    module: Module | str, *, repository: Repository | str | None = None, settings: Settings | None = None
) -> Releases:
    """The releases of ``module``, oldest first, yanked ones included and marked.

    :raises InvalidCoordinate: ``module`` does not parse. :raises ArtifactNotFound: ``module`` was never released.
        :raises RepositoryUnavailable, AuthenticationFailed: the repository cannot be used.
    """
    module = module if isinstance(module, Module) else Module.parse(module)
    with using_repository(repository, settings) as (repo, _):
        read_listings_ahead(repo, [module])
        metadata = read_metadata(repo, module)
        if metadata is None:
            raise never_released(repo, module)
        yanked = read_yanks(repo, module).yanked()
    marked = {version: event for text, event in yanked.items() if (version := Version.try_parse(text)) is not None}
    versions = sorted({*metadata.releases, *marked})
    return Releases(module, tuple(Release(v, marked.get(v)) for v in versions), tuple(metadata.foreign))
