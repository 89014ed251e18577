"""The maven2 operations every use case shares, over any :class:`~registry.repository.base.Repository`.

* **Metadata**: :func:`read_metadata`, :func:`list_versions`, :func:`select_version` / :func:`select`, and
  :func:`publish`, which lists versions in ``maven-metadata.xml`` (always last) and makes sure they stay listed.
* **Verified reads**: every file is checked against the strongest checksum sidecar the repository offers
  (sha512, sha256, sha1, then md5): :func:`remote_checksum`, :func:`read_verified`, :func:`fetch_verified`.
* **One cache, keyed by digest**: :class:`Cache`. A release never changes, so what was verified once is kept
  under its coordinate *and* its checksum (``CACHE/com/acme/churn/1.2.7/sha512-<digest>/`` for an extracted
  model, ``CACHE/cards/...`` for a card or a record); two repositories holding different bytes under one
  coordinate can never be confused. Every entry is re-verified (small files) or complete (models) when used.
* **What the repository records about a version**: its model card (:func:`fetch_card`) and its promotion record
  (:func:`fetch_promotion`), each checked to be about the coordinate asked for; :func:`read_history` reads them
  for every version of an artifact.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry._util import atomic_write, backoff
from registry.checksums import STRONGEST_FIRST, Digests, digest_bytes, digest_file, parse_sidecar
from registry.coordinates import Coordinate, Module, parse_request
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidInput, RepositoryUnavailable
from registry.metadata import Metadata
from registry.modelcard import CLASSIFIER as CARD_CLASSIFIER
from registry.modelcard import ModelCard
from registry.promotion import CLASSIFIER as PROMOTION_CLASSIFIER
from registry.promotion import PromotionRecord
from registry.repository.base import Repository
from registry.versions import Selector, Version

__all__ = [
    "ArtifactHistory",
    "Cache",
    "VersionCard",
    "fetch_card",
    "fetch_promotion",
    "fetch_verified",
    "is_listed",
    "list_versions",
    "publish",
    "read_history",
    "read_metadata",
    "read_verified",
    "remote_checksum",
    "select",
    "select_version",
]

#: How long :func:`publish` keeps merging its versions back in on a server that loses concurrent updates.
PUBLISH_DEADLINE = 120.0


# -- maven-metadata.xml -------------------------------------------------------------------------------------


def read_metadata(repository: Repository, module: Module) -> Metadata | None:
    """The artifact's metadata, or ``None`` when it has none yet. Any other failure is raised, never guessed.

    A server that rewrites the file in place (Apache mod_dav) can hand a reader a torn copy while a deploy writes
    it, so an unreadable copy is read again twice, after 50 and 200 ms, before it counts as broken.
    """
    for pause in (0.05, 0.2, None):
        try:
            data = repository.read(module.metadata_path)
        except ArtifactNotFound:
            return None
        try:
            return Metadata.parse(data, module, f"{module.metadata_path} in {repository.display}")
        except IntegrityError:
            if pause is None:
                raise
            time.sleep(pause)
    raise AssertionError("unreachable")


def list_versions(module: Module | str, repository: Repository) -> list[Version]:
    """The released versions of ``module``, oldest first (versions other tools wrote are left out)."""
    module = module if isinstance(module, Module) else Module.parse(module)
    metadata = read_metadata(repository, module)
    return metadata.releases if metadata else []


def is_listed(repository: Repository, coordinate: Coordinate) -> bool:
    """Whether ``maven-metadata.xml`` lists the version (so that ``latest.release`` and Ivy can see it)."""
    metadata = read_metadata(repository, coordinate.module)
    return metadata is not None and str(coordinate.version) in metadata.versions


def select_version(module: Module, selector: Selector, repository: Repository) -> Coordinate:
    """The newest version of ``module`` that ``selector`` accepts; one metadata read for a dynamic selector,
    none for an exact version."""
    exact = selector.exact
    if exact is not None:
        return module.at(exact)
    metadata = read_metadata(repository, module)
    if metadata is None or not metadata.releases:
        raise ArtifactNotFound(
            f"{module} has no released versions in {repository.display}. Check the group and artifact, or "
            "the repository (--repository / REGISTRY_REPOSITORY)."
        )
    chosen = selector.select(metadata.releases)
    if chosen is None:
        available = ", ".join(map(str, metadata.releases[-5:]))
        raise ArtifactNotFound(
            f"No version of {module} matches {str(selector)!r} in {repository.display}; the newest are: {available}."
        )
    return module.at(chosen)


def select(spec: str | Coordinate, repository: Repository, module: Module | None = None) -> Coordinate:
    """The coordinate ``spec`` names: a coordinate, ``GROUP:ARTIFACT:SELECTOR``, or (with ``module``) a bare
    selector such as ``1.0.3`` or ``latest.release`` of that artifact."""
    if isinstance(spec, Coordinate):
        return spec
    if module is not None and ":" not in spec:
        return select_version(module, Selector.parse(spec), repository)
    request_module, selector = parse_request(spec)
    return select_version(request_module, selector, repository)


def publish(repository: Repository, module: Module, versions: Sequence[Version]) -> None:
    """List ``versions`` in the artifact's ``maven-metadata.xml``, and make sure they stay listed.

    A metadata update is a union of versions, so it can always be merged again: where the server cannot make the
    read-modify-write atomic (nginx honours neither ``If-Match`` nor ``LOCK``), a concurrent writer may overwrite
    ours. The result is read back, and while any of ``versions`` is missing the update is made again, with
    jittered backoff, until they are listed or :data:`PUBLISH_DEADLINE` passes.
    """
    source = f"{module.metadata_path} in {repository.display}"
    wanted = {str(v) for v in versions}

    def add(current: bytes | None) -> bytes:
        metadata = Metadata.parse(current, module, source) if current is not None else Metadata(module)
        return metadata.with_versions(versions).render()

    deadline = time.monotonic() + PUBLISH_DEADLINE
    attempt = 0
    while True:
        attempt += 1
        repository.update(module.metadata_path, add)
        listed = read_metadata(repository, module)
        missing = wanted - set(listed.versions if listed else ())
        if not missing:
            return
        if time.monotonic() > deadline:
            raise RepositoryUnavailable(
                f"{module}:{', '.join(sorted(missing))} was uploaded to {repository.display}, but its "
                "maven-metadata.xml kept losing it to concurrent writers, so latest.release and Ivy cannot see it. "
                f"Run 'registry fsck {module} --repair' to list it, or deploy again."
            )
        backoff(attempt)


# -- verified reads ------------------------------------------------------------------------------------------


def remote_checksum(repository: Repository, path: str, what: str) -> tuple[str, str]:
    """The strongest checksum the repository offers for ``path`` (sha512 > sha256 > sha1 > md5)."""
    for algorithm in STRONGEST_FIRST:
        try:
            content = repository.read(f"{path}.{algorithm}")
        except ArtifactNotFound:
            continue
        return algorithm, parse_sidecar(content, algorithm, f"{what} in {repository.display}")
    if not repository.exists(path):
        raise ArtifactNotFound(f"{what} does not exist in {repository.display}.")
    raise IntegrityError(
        f"{what} in {repository.display} has no checksum file (.sha512, .sha256, .sha1 or .md5), so it cannot be "
        "verified; refusing it. Ask the repository owner to regenerate its checksums."
    )


def fetch_verified(
    repository: Repository, path: str, destination: Path, what: str, *, every: Iterable[str] = ()
) -> Digests:
    """Download ``path`` into ``destination`` and verify it against its strongest checksum or, given ``every``
    (algorithms whose sidecars exist), against each of them; a mismatch removes the file and raises."""
    algorithms = list(every)
    expected = {}
    if algorithms:
        where = f"{what} in {repository.display}"
        expected = {a: parse_sidecar(repository.read(f"{path}.{a}"), a, where) for a in algorithms}
    else:
        algorithm, digest = remote_checksum(repository, path, what)
        expected = {algorithm: digest}
    repository.fetch(path, destination)
    digests = digest_file(destination)
    try:
        for algorithm, digest in expected.items():
            if algorithms and digests.get(algorithm) != digest:
                raise IntegrityError(
                    f"{what} has {algorithm} {digests.get(algorithm)}, but its .{algorithm} says {digest}"
                )
            digests.verify(algorithm, digest, f"{what} from {repository.display}")
    except IntegrityError:
        destination.unlink(missing_ok=True)
        raise
    return digests


@dataclass(frozen=True)
class Cache:
    """Verified files and extracted models, kept under their coordinate and checksum (see the module docstring)."""

    root: Path

    def entry(self, coordinate: Coordinate, algorithm: str, digest: str, *, small: bool = False) -> Path:
        """The folder for one verified jar (its extracted model) or, with ``small``, one verified small file."""
        area = self.root / "cards" if small else self.root
        return area / coordinate.directory / f"{algorithm}-{digest[:40]}"

    def read(self, coordinate: Coordinate, name: str, algorithm: str, digest: str) -> bytes | None:
        """A cached small file, if it is there and still has the digest (a damaged cache is refilled, never
        believed)."""
        try:
            data = (self.entry(coordinate, algorithm, digest, small=True) / name).read_bytes()
        except OSError:
            return None
        return data if digest_bytes(data).get(algorithm) == digest else None

    def keep(self, coordinate: Coordinate, name: str, algorithm: str, digest: str, data: bytes) -> None:
        """Cache a verified small file; failing to cache never fails the read."""
        entry = self.entry(coordinate, algorithm, digest, small=True)
        try:
            entry.mkdir(parents=True, exist_ok=True)
            atomic_write(entry / name, data)
        except OSError:
            return


def read_verified(
    repository: Repository,
    path: str,
    what: str,
    *,
    cache: Cache | None = None,
    coordinate: Coordinate | None = None,
) -> bytes:
    """Read a small file and verify it; with ``cache`` (and the ``coordinate`` it belongs to), a file verified
    before is not downloaded again."""
    algorithm, expected = remote_checksum(repository, path, what)
    name = path.rsplit("/", 1)[-1]
    if cache is not None and coordinate is not None:
        cached = cache.read(coordinate, name, algorithm, expected)
        if cached is not None:
            return cached
    data = repository.read(path)
    digest_bytes(data).verify(algorithm, expected, f"{what} from {repository.display}")
    if cache is not None and coordinate is not None:
        cache.keep(coordinate, name, algorithm, expected, data)
    return data


# -- cards and promotion records ----------------------------------------------------------------------------


def _sidecar(
    repository: Repository, coordinate: Coordinate, classifier: str, cache: Cache | None, *, often_absent: bool
) -> bytes | None:
    """The verified content of a version's ``-CLASSIFIER.json``, or ``None`` when it does not exist.

    ``often_absent``: ask whether the file exists first (one request), rather than learn it from four missing
    checksum files.
    """
    path = coordinate.path("json", classifier)
    if often_absent and not repository.exists(path):
        return None
    try:
        return read_verified(
            repository, path, coordinate.file_name("json", classifier), cache=cache, coordinate=coordinate
        )
    except ArtifactNotFound:
        return None


def fetch_card(repository: Repository, coordinate: Coordinate, *, cache: Cache | None = None) -> ModelCard:
    """The verified card of one version.

    :raises ArtifactNotFound: the version has no card sidecar. :raises IntegrityError: the card does not match its
        checksum, has none, is not readable, or is not a card of ``coordinate``.
    """
    data = _sidecar(repository, coordinate, CARD_CLASSIFIER, cache, often_absent=False)
    if data is None:
        raise ArtifactNotFound(
            f"{coordinate} has no model card ({coordinate.file_name('json', CARD_CLASSIFIER)}) in "
            f"{repository.display}. Check the version with 'registry versions {coordinate.module}'."
        )
    return card_of(data, coordinate, f"The model card of {coordinate} in {repository.display}")


def card_of(data: bytes, coordinate: Coordinate, what: str) -> ModelCard:
    """Parse a card that must describe ``coordinate``; :class:`IntegrityError` (naming ``what``) otherwise."""
    try:
        card = ModelCard.from_json(data)
    except (ValueError, TypeError, RecursionError) as exc:
        raise IntegrityError(f"{what} is not readable ({exc}). Ask the repository owner to check it.") from None
    if card.coordinate != str(coordinate):
        raise IntegrityError(
            f"{what} describes {card.coordinate!r}; refusing it. Ask the repository owner to check it."
        )
    return card


def fetch_promotion(
    repository: Repository, coordinate: Coordinate, *, cache: Cache | None = None
) -> PromotionRecord | None:
    """The verified record of the version's promotion into ``repository``, or ``None`` if it was never promoted
    there.

    :raises IntegrityError: the record does not match its checksum, or is not a record of ``coordinate``.
    """
    data = _sidecar(repository, coordinate, PROMOTION_CLASSIFIER, cache, often_absent=True)
    if data is None:
        return None
    try:
        record = PromotionRecord.from_json(data)
    except InvalidInput as exc:
        raise IntegrityError(f"The promotion record of {coordinate} in {repository.display}: {exc}") from None
    if record.coordinate != str(coordinate):
        raise IntegrityError(
            f"The promotion record of {coordinate} in {repository.display} describes {record.coordinate!r}; "
            "refusing it. Ask the repository owner to check it."
        )
    return record


@dataclass(frozen=True)
class VersionCard:
    """A version, its card, and its promotion into the repository it was read from (if any)."""

    coordinate: Coordinate
    card: ModelCard
    promotion: PromotionRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON data, plus ``"promotion"`` (the record, or null)."""
        data = self.card.to_dict()
        data["promotion"] = self.promotion.to_dict() if self.promotion else None
        return data


@dataclass(frozen=True)
class ArtifactHistory:
    """Every released version of an artifact: those with a card (newest first) and those without."""

    module: Module
    cards: tuple[VersionCard, ...]
    without_card: tuple[Version, ...] = ()


def read_history(
    module: Module,
    repository: Repository,
    *,
    cache: Cache | None = None,
    promotions: bool = False,
    versions: Iterable[Version] | None = None,
) -> ArtifactHistory:
    """The cards of every released version of ``module`` (or of ``versions``), newest first, read via the cache."""
    found: list[VersionCard] = []
    without: list[Version] = []
    listed = list_versions(module, repository) if versions is None else list(versions)
    for version in sorted(listed, reverse=True):
        coordinate = module.at(version)
        try:
            card = fetch_card(repository, coordinate, cache=cache)
        except ArtifactNotFound:
            without.append(version)  # deployed by another tool: listed, but without a card
            continue
        record = fetch_promotion(repository, coordinate, cache=cache) if promotions else None
        found.append(VersionCard(coordinate, card, record))
    return ArtifactHistory(module, tuple(found), tuple(without))
