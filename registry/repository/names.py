"""What to say when an artifact is not in a repository: the repository itself is missing, or the nearest names.

Only what the repository lists is searched (two listings: the group's folder, then its parent's), so over HTTP
the names come where the server offers a directory listing, and a listing that fails suggests nothing.
"""

from __future__ import annotations

import difflib

from registry.coordinates import Module
from registry.exceptions import ArtifactNotFound, RegistryError, RepositoryNotFound
from registry.repository.base import Repository

__all__ = ["never_released", "require_present"]

_CUTOFF = 0.75
_SUGGESTIONS = 3


def _folders(repository: Repository, directory: str) -> list[str]:
    try:
        return [name.rstrip("/") for name in repository.list(directory) if name.endswith("/")]
    except RegistryError:
        return []


def nearest_modules(repository: Repository, module: Module) -> list[Module]:
    """Artifacts the repository lists whose group and artifact are close to ``module``'s, nearest first."""
    segments = module.group.split(".")
    parent = "/".join(segments[:-1])
    groups = [module.group]
    groups += [
        ".".join([*segments[:-1], name])
        for name in difflib.get_close_matches(segments[-1], _folders(repository, parent), _SUGGESTIONS, _CUTOFF)
        if name != segments[-1]
    ]
    found: list[Module] = []
    for group in groups:
        artifacts = _folders(repository, group.replace(".", "/"))
        found += [Module(group, a) for a in difflib.get_close_matches(module.artifact, artifacts, _SUGGESTIONS, 0.6)]
    wanted = str(module)
    found = [m for m in found if str(m) != wanted]
    return sorted(found, key=lambda m: -difflib.SequenceMatcher(None, str(m), wanted).ratio())[:_SUGGESTIONS]


def require_present(repository: Repository) -> None:
    """Refuse a repository that does not exist at all (a mistyped path), before it reads as one with nothing in it.

    :raises RepositoryNotFound: it names the repository (an :class:`ArtifactNotFound` and an ``InvalidInput``).
    """
    if repository.missing():
        raise RepositoryNotFound(
            f"The repository {repository.display} does not exist. Check the path or URL given with --repository "
            "(or REGISTRY_REPOSITORY); 'registry repos' lists the configured ones."
        )


def never_released(repository: Repository, module: Module) -> RegistryError:
    """The error for ``module`` having no released version: the repository is missing
    (:class:`RepositoryNotFound`), or :class:`ArtifactNotFound` saying so, with the nearest names it has."""
    try:
        require_present(repository)
    except RepositoryNotFound as missing:
        return missing
    nearest = nearest_modules(repository, module)
    hint = (
        f" Did you mean {' or '.join(str(m) for m in nearest)}?"
        if nearest
        else " Check the group and artifact, or the repository (--repository / REGISTRY_REPOSITORY)."
    )
    return ArtifactNotFound(
        f"{module} has no released versions in {repository.display}: it was never released there.{hint}"
    )
