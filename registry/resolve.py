"""Resolve: a coordinate or selector becomes a verified, extracted model directory on local disk.

The cache keeps each release under its coordinate *and* its checksum
(``CACHE/com/acme/churn/1.2.7/sha512-<digest>/``), and its index records which entry each repository (by URL)
served for the coordinate, so a release resolved before costs no request at all (a selector: the one metadata
read), and two repositories holding different bytes under one coordinate can never be confused. A cold resolve
downloads the jar and its checksum at once. Entries are built in a temporary directory and
renamed into place only after the checksum is verified: a bad download leaves nothing behind. The jar's OpenPGP
signature (``.asc``) is checked before extraction under the repository's policy (:mod:`registry.trust`); the
entry records that check (``signature.json``: the policy and the signer), so a warm resolve runs no gpg unless
the policy changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from registry.archive import CARD_ENTRY, check_embedded_pom, extract_model, read_entry
from registry.checksums import file_digest, verify_digest
from registry.coordinates import Coordinate, parse_request
from registry.exceptions import ArtifactNotFound
from registry.modelcard import ModelCard
from registry.repository.base import Repository
from registry.settings import Settings, using_repository
from registry.signing import TrustPolicy
from registry.store import (
    ABSENT,
    Cache,
    list_versions,
    select_version,
    sha512_or_none,
    strongest_checksum,
    together,
)
from registry.trust import MARK, UNREAD, check_jar, policy_for, read_signature, wants_signature
from registry.versions import Selector

__all__ = ["Resolved", "list_versions", "resolve", "select_version"]


@dataclass(frozen=True)
class Resolved:
    """A resolved model: where it is on disk, and what it is."""

    coordinate: Coordinate
    path: Path
    jar: Path
    card: ModelCard | None


def _fill(
    cache: Cache,
    repository: Repository,
    coordinate: Coordinate,
    check_signature: Callable[[Path, Path, bytes | None], object],
    signed: bool,
) -> tuple[str, str, Path]:
    """Download the jar and its strongest checksum at once, verify (checksum, then signature), and extract into the
    cache entry named after that checksum, atomically. Returns the algorithm, the digest and the entry."""
    staging_root = cache.root / coordinate.directory
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download.", dir=staging_root))
    try:
        jar = staging / coordinate.file_name("jar")
        path = coordinate.path("jar")
        try:
            # The jar, its sha512 and (where signatures are checked) its .asc, all at once.
            _, (sha512, asc) = together(
                lambda: repository.fetch(path, jar),
                lambda: together(
                    lambda: sha512_or_none(repository, path),
                    lambda: read_signature(repository, path) if signed else UNREAD,
                ),
            )
        except ArtifactNotFound:
            raise ArtifactNotFound(f"{coordinate} does not exist in {repository.display}.") from None
        algorithm, digest = strongest_checksum(repository, path, str(coordinate), sha512)
        entry = cache.entry(coordinate, algorithm, digest)
        if (entry / "model").is_dir():  # verified before, under the same checksum
            check_signature(entry / coordinate.file_name("jar"), entry / MARK, asc)
            return algorithm, digest, entry
        # Verified against the one digest the cache entry is named after (hashing a large jar four times was most
        # of a cold resolve's own cost).
        verify_digest(algorithm, file_digest(jar, algorithm), digest, f"{coordinate} from {repository.display}")
        check_signature(jar, staging / MARK, asc)
        check_embedded_pom(jar, coordinate)
        extract_model(jar, staging / "model")
        card = read_entry(jar, CARD_ENTRY)
        if card is not None:
            (staging / "model.json").write_bytes(card)
        staging.chmod(0o755)
        try:
            os.rename(staging, entry)
        except OSError:
            if not (entry / "model").is_dir():  # not a concurrent resolver that won the race
                raise
        return algorithm, digest, entry
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
    if isinstance(spec, Coordinate):
        module, selector = spec.module, Selector.parse(str(spec.version))
    else:
        module, selector = parse_request(spec)
    with using_repository(repository, settings) as (repo, active):
        cache = Cache(cache_dir or active.cache_dir)
        coordinate = select_version(module, selector, repo)  # an exact version: no request
        name = coordinate.file_name("jar")
        known = cache.served(repo.origin, coordinate, name)
        entry = cache.entry(coordinate, *known) if known is not None and known != ABSENT else None
        policy: TrustPolicy = policy_for(repository, repo, active)

        def check_signature(jar: Path, mark: Path, signature: bytes | None = UNREAD) -> object:
            return check_jar(repo, coordinate, jar, policy, active, mark, signature=signature)

        if entry is None or not (entry / "model").is_dir():
            algorithm, digest, entry = _fill(cache, repo, coordinate, check_signature, wants_signature(policy))
            cache.remember(repo.origin, coordinate, name, algorithm, digest)
        else:  # remembered in the entry, unless the policy changed since
            check_signature(entry / name, entry / MARK)
    jar = entry / coordinate.file_name("jar")
    path = entry / "model"
    if to is not None:
        path = extract_model(jar, Path(to).expanduser().absolute())
    return Resolved(coordinate, path, jar, _card(entry))
