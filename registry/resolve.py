"""Resolve: a coordinate or selector becomes a verified, extracted model directory on local disk.

The cache keeps each release under its coordinate *and* its checksum
(``CACHE/com/acme/churn/1.2.7/sha512-<digest>/``), and its index records which entry each repository (by URL)
served for the coordinate, so a release resolved before costs no request at all (a selector: the one metadata
read), and two repositories holding different bytes under one coordinate can never be confused. A cold resolve
downloads the jar and its checksum at once. Entries are built in a temporary directory and
renamed into place only after the checksum is verified: a bad download leaves nothing behind
(:func:`registry.store.fill_model`). The jar's OpenPGP signature (``.asc``) is checked before extraction under the
repository's policy (:func:`registry.trust.checked_model`, which ``show`` shares); the entry records that check
(``signature.json``: the policy, the state of the keyring, the signer), so a warm resolve runs no gpg unless the
policy or the keyring changed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from registry.archive import extract_model
from registry.coordinates import Coordinate, request_of
from registry.modelcard import ModelCard
from registry.repository.base import Repository
from registry.settings import Settings, using_repository
from registry.store import Cache, list_versions, read_yanks, select_version
from registry.trust import checked_model, policy_for
from registry.withdrawal import YankEvent

__all__ = ["Resolved", "YankedWarning", "list_versions", "resolve", "select_version"]


class YankedWarning(UserWarning):
    """An exact coordinate resolved to a version that is yanked in the repository (its files are all there)."""


@dataclass(frozen=True)
class Resolved:
    """A resolved model: where it is on disk, and what it is."""

    coordinate: Coordinate
    path: Path
    jar: Path
    card: ModelCard | None
    yanked: YankEvent | None = None  # the yank, when an exact coordinate named a yanked version


def _card(entry: Path) -> ModelCard | None:
    try:
        return ModelCard.from_json((entry / "model.json").read_bytes())
    except (OSError, ValueError):
        return None


def resolve(
    spec: str | Coordinate,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    to: Path | str | None = None,
    cache_dir: Path | None = None,
) -> Resolved:
    """Find, download, verify and extract a model.

    :param spec: ``GROUP:ARTIFACT:SELECTOR``: an exact ``1.2.7``, ``1.2`` (newest 1.2.x), ``1.2.+``, ``1.+``,
        ``latest.release``, or a range such as ``[1.2,2.0)``.
    :param repository: an open repository, or a name/URL/path; ``None`` uses the configured default.
    :param to: extract the model into this new (or empty) directory instead of returning the cached copy.
    :param cache_dir: where verified models are kept; default from settings (``~/.cache/registry``).
    :returns: the coordinate chosen and the path of the extracted model directory.
    :raises ArtifactNotFound: nothing matches. :raises IntegrityError: the download does not match its checksum
        (nothing is cached). :raises SignatureError: the jar's signature is bad, by a key the repository does not
        trust, or missing where the repository requires one (nothing is extracted).
    :raises RepositoryUnavailable, AuthenticationFailed: the repository cannot be used.
    """
    module, selector = request_of(spec)
    with using_repository(repository, settings) as (repo, active):
        cache = Cache(cache_dir or active.cache_dir)
        coordinate = select_version(module, selector, repo)  # an exact version: no request
        yanked = None
        if selector.exact is not None and cache.model(repo.origin, coordinate) is None:
            # A cold exact resolve asks whether the version is yanked (one small read); a warm one makes no request.
            yanked = read_yanks(repo, module).yanked().get(str(coordinate.version))
        entry = checked_model(repo, coordinate, cache, policy_for(repository, repo, active), active)
    if yanked is not None:
        who = yanked.by.get("user", "unknown")
        warnings.warn(
            f"{coordinate} is yanked in {repo.display} (by {who} at {yanked.at}: {yanked.reason}); resolved "
            "because it was asked for exactly. Selectors such as latest.release skip it.",
            YankedWarning,
            stacklevel=2,
        )
    jar = entry / coordinate.file_name("jar")
    path = entry / "model"
    if to is not None:
        path = extract_model(jar, Path(to).expanduser().absolute())
    return Resolved(coordinate, path, jar, _card(entry), yanked)
