"""What a repository records about a version: its model card (:func:`fetch_card`) and its promotion record
(:func:`fetch_promotion`), each verified and checked to be about the coordinate asked for; :func:`read_history`
reads them for every version of an artifact at once."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from registry.approval import ApprovalRecord, approval_classifier
from registry.checksums import digest_bytes
from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidInput
from registry.modelcard import CLASSIFIER as CARD_CLASSIFIER
from registry.modelcard import ModelCard
from registry.promotion import CLASSIFIER as PROMOTION_CLASSIFIER
from registry.promotion import PromotionRecord
from registry.repository.base import PathExists, Repository
from registry.repository.names import require_present
from registry.store.cache import ABSENT, Cache
from registry.store.metadata import list_versions
from registry.store.promotions import read_promotion_log
from registry.store.verified import read_many_alone, read_many_verified, read_version_json
from registry.versions import Version
from registry.withdrawal import YankEvent

__all__ = [
    "ArtifactHistory",
    "VersionCard",
    "card_of",
    "create_record",
    "fetch_approval",
    "read_approval",
    "fetch_card",
    "fetch_promotion",
    "promotion_of",
    "read_history",
]


def fetch_card(repository: Repository, coordinate: Coordinate, *, cache: Cache | None = None) -> ModelCard:
    """The verified card of one version.

    :raises ArtifactNotFound: the version has no card sidecar. :raises IntegrityError: the card does not match its
        checksum, has none, is not readable, or is not a card of ``coordinate``.
    """
    data = read_version_json(repository, coordinate, CARD_CLASSIFIER, cache, often_absent=False)
    if data is None:
        require_present(repository)  # a mistyped repository path, not a version without a card
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
    repository: Repository, coordinate: Coordinate, *, cache: Cache | None = None, listed: bool = False
) -> PromotionRecord | None:
    """The verified record of the version's promotion into ``repository``, or ``None`` if it was never promoted
    there. ``listed``: the version is known to be listed in the repository's metadata (then an absent record is
    remembered in the cache: a promotion writes its record before it lists the version).

    :raises IntegrityError: the record does not match its checksum, or is not a record of ``coordinate``.
    """
    data = read_version_json(repository, coordinate, PROMOTION_CLASSIFIER, cache, often_absent=True, listed=listed)
    if data is None:
        return None
    return promotion_of(data, repository, coordinate)


def fetch_approval(repository: Repository, coordinate: Coordinate, target: str) -> ApprovalRecord | None:
    """The verified approval to promote the version from ``repository`` into ``target`` (its origin, else its
    display name), or ``None``.

    :raises IntegrityError: the record does not match its checksum, or is not about ``coordinate``.
    """
    found = read_approval(repository, coordinate, target)
    return found[0] if found is not None else None


def read_approval(repository: Repository, coordinate: Coordinate, target: str) -> tuple[ApprovalRecord, bytes] | None:
    """:func:`fetch_approval`, with the record's verified bytes (what its signature, if any, is over)."""
    data = read_version_json(repository, coordinate, approval_classifier(target), None, often_absent=True)
    if data is None:
        return None
    what = f"The approval of {coordinate} in {repository.display}"
    return _record_about(ApprovalRecord.from_json, data, coordinate, what), data


def create_record(repository: Repository, path: str, data: bytes) -> bool:
    """Write a record create-only, its checksum sidecars first; ``False`` when ``path`` exists already (then
    nothing is overwritten)."""
    for extension, content in digest_bytes(data).sidecars():
        with contextlib.suppress(PathExists):
            repository.create(f"{path}.{extension}", content)
    try:
        repository.create(path, data)
    except PathExists:
        return False
    return True


def promotion_of(data: bytes, repository: Repository, coordinate: Coordinate) -> PromotionRecord:
    """Parse a promotion record that must be about ``coordinate``; :class:`IntegrityError` otherwise."""
    what = f"The promotion record of {coordinate} in {repository.display}"
    return _record_about(PromotionRecord.from_json, data, coordinate, what)


class _Record(Protocol):
    @property
    def coordinate(self) -> str: ...


_R = TypeVar("_R", bound=_Record)


def _record_about(parse: Callable[[bytes], _R], data: bytes, coordinate: Coordinate, what: str) -> _R:
    """A record (promotion, approval) parsed by ``parse`` that must be about ``coordinate``; :class:`IntegrityError`
    naming ``what`` when it is unreadable or about another version."""
    try:
        record = parse(data)
    except InvalidInput as exc:
        raise IntegrityError(f"{what}: {exc}") from None
    if record.coordinate != str(coordinate):
        raise IntegrityError(
            f"{what} describes {record.coordinate!r}; refusing it. Ask the repository owner to check it."
        )
    return record


@dataclass(frozen=True)
class VersionCard:
    """A version, its card, and its promotion into the repository it was read from (if any)."""

    coordinate: Coordinate
    card: ModelCard
    promotion: PromotionRecord | None = None
    yanked: YankEvent | None = None  # the yank, where the version is yanked in that repository

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON data, plus ``"promotion"`` (the record, or null) and, for a yanked version,
        ``"yanked"`` (the yank record)."""
        data = self.card.to_dict()
        data["promotion"] = self.promotion.to_dict() if self.promotion else None
        if self.yanked is not None:
            data["yanked"] = self.yanked.to_dict()
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
    listed: bool = False,
) -> ArtifactHistory:
    """The cards of every released version of ``module`` (or of ``versions``), newest first, read via the cache
    and all at once on the repository's threads (:func:`~registry.store.verified.read_many_verified`); with
    ``promotions``, each version's promotion record too, all at once beside them
    (:func:`~registry.store.verified.read_many_alone`): only those of the versions the artifact's promotion log
    names, where it has one (:func:`~registry.store.promotions.read_promotion_log`). What the cache already
    knows is answered on the calling thread: a warm read starts no thread at all. ``listed``: ``versions`` are those
    the metadata lists (as read by the caller), so a promotion record found absent stays absent."""
    wanted = list_versions(module, repository) if versions is None else list(versions)
    listed = listed or versions is None
    coordinates = [module.at(version) for version in sorted(wanted, reverse=True)]
    files = [(c, c.path("json", CARD_CLASSIFIER), c.file_name("json", CARD_CLASSIFIER)) for c in coordinates]
    known: list[tuple[int, Callable[[], PromotionRecord | None]]] = []
    asked: list[int] = []
    for index, coordinate in enumerate(coordinates if promotions else ()):
        name = coordinate.file_name("json", PROMOTION_CLASSIFIER)
        served = cache.served(repository.origin, coordinate, name) if cache is not None else None
        if served == ABSENT:
            continue  # absent for good: None, asking nothing
        if served is not None:  # cached
            ask = functools.partial(fetch_promotion, repository, coordinate, cache=cache, listed=listed)
            known.append((index, ask))
        else:
            asked.append(index)
    if asked:  # what the cache does not know: only the records the promotion log names, where there is one
        # Not remembered as absent: a log that lost a version (fsck reports it) must not hide its record for good.
        log = read_promotion_log(repository, module)
        asked = [i for i in asked if log is None or str(coordinates[i].version) in log.versions]
    # the records all at once (each alone: most do not exist), beside the cards: two batches, not a read a thread
    wanted_records = [
        (c, c.path("json", PROMOTION_CLASSIFIER), c.file_name("json", PROMOTION_CLASSIFIER))
        for c in (coordinates[index] for index in asked)
    ]
    beside = [functools.partial(read_many_alone, repository, wanted_records, cache=cache, listed=listed)]
    parsed: dict[int, ModelCard | IntegrityError] = {}

    def parse(index: int, data: bytes) -> None:  # each card as it is verified, while the others travel
        coordinate = coordinates[index]
        try:
            parsed[index] = card_of(data, coordinate, f"The model card of {coordinate} in {repository.display}")
        except IntegrityError as exc:
            parsed[index] = exc  # raised below, in the order of the versions, as before

    cards, answers = read_many_verified(repository, files, cache=cache, beside=beside if asked else [], each=parse)
    records: list[PromotionRecord | None] = [None] * len(coordinates)
    for index, outcome in zip(asked, answers[0] if asked else [], strict=True):
        if cards[index] is not None:  # the record of a version without a card does not matter
            if isinstance(outcome, Exception):
                raise outcome
            records[index] = None if outcome is None else promotion_of(outcome, repository, coordinates[index])
    for index, answer in known:  # on this thread: a damaged cached copy is read again here
        records[index] = answer() if cards[index] is not None else None
    history: list[VersionCard] = []
    without: list[Version] = []
    for index, (coordinate, data, record) in enumerate(zip(coordinates, cards, records, strict=True)):
        if data is None:
            without.append(coordinate.version)  # deployed by another tool: listed, but without a card
            continue
        card = parsed[index]
        if isinstance(card, IntegrityError):
            raise card
        history.append(VersionCard(coordinate, card, record))
    return ArtifactHistory(module, tuple(history), tuple(without))
