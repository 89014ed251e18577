"""Reading what the repository records about each version: its model card and its promotion record.

Both are JSON sidecars beside the jar, each with ``.md5``/``.sha1``/``.sha256``/``.sha512`` checksums:

* ``churn-1.0.3-model.json``, the card (schema in :mod:`registry.modelcard`), written by every deploy;
* ``churn-1.0.3-promotion.json``, written into the *target* repository when a version is promoted there::

      {"schema": 1, "coordinate": "com.acme:churn:1.0.3", "promoted_at": "2024-05-01T12:00:00Z",
       "promoted_by": {"user": ..., "host": ...}, "source": "staging", "target": "releases",
       "files": {"churn-1.0.3.jar": "<sha512>", ...},
       "gates": [{"expression": "auc>0.8", "metric": "auc", "actual": 0.91, "passed": true}],
       "previous_promotion": the record the source repository held for the version, or null}

Every read verifies the strongest checksum the repository offers (sha512, sha256, sha1, then md5). Released files
never change, so a verified file is cached under ``CACHE/cards/<coordinate>/<algorithm>-<digest>/``: a repeated
read costs one small request, for the checksum, and never downloads the file again.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.checksums import digest_bytes
from registry.config import Settings, using_repository
from registry.coordinates import Coordinate, Module, parse_request
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidInput
from registry.integrity import remote_checksum
from registry.modelcard import ModelCard
from registry.repository.base import Repository
from registry.resolve import list_versions, select_version
from registry.versions import Selector, Version

__all__ = [
    "CARD_CLASSIFIER",
    "PROMOTION_CLASSIFIER",
    "ArtifactHistory",
    "GateRecord",
    "Promotion",
    "VersionCard",
    "fetch_card",
    "fetch_promotion",
    "read_card",
    "read_history",
]

CARD_CLASSIFIER = "model"
PROMOTION_CLASSIFIER = "promotion"
#: How many earlier promotions (``previous_promotion``, the record the source repository had) are read.
_MAX_HOPS = 16


@dataclass(frozen=True)
class GateRecord:
    """One quality gate as checked at promotion time."""

    expression: str
    metric: str
    actual: float | None
    passed: bool


@dataclass(frozen=True)
class Promotion:
    """The record a promotion leaves in its target repository; see the module docstring for the schema."""

    coordinate: str
    promoted_at: str
    promoted_by: Mapping[str, str]
    source: str
    target: str
    files: Mapping[str, str] = field(default_factory=dict)
    gates: tuple[GateRecord, ...] = ()
    previous: Promotion | None = None
    schema: int = 1

    @classmethod
    def from_json(cls, data: bytes) -> Promotion:
        """Parse a promotion record; :class:`InvalidInput` when it does not have the schema's shape."""
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidInput(f"Not a promotion record: {exc}.") from None
        return cls._from_dict(raw, _MAX_HOPS)

    @classmethod
    def _from_dict(cls, raw: object, hops: int) -> Promotion:
        if not isinstance(raw, dict):
            raise InvalidInput("Not a promotion record: not a JSON object.")
        text = {k: raw.get(k) for k in ("coordinate", "promoted_at", "source", "target")}
        wrong = sorted(k for k, v in text.items() if not isinstance(v, str))
        promoted_by, files, gates = raw.get("promoted_by", {}), raw.get("files", {}), raw.get("gates", [])
        if not isinstance(promoted_by, dict) or not isinstance(files, dict) or not isinstance(gates, list):
            wrong.append("promoted_by, files or gates")
        if wrong:
            raise InvalidInput(f"Not a promotion record: {', '.join(wrong)} missing or of the wrong type.")
        earlier = raw.get("previous_promotion")
        return cls(
            coordinate=str(text["coordinate"]),
            promoted_at=str(text["promoted_at"]),
            promoted_by={str(k): str(v) for k, v in promoted_by.items()},
            source=str(text["source"]),
            target=str(text["target"]),
            files={str(k): str(v) for k, v in files.items()},
            gates=tuple(_gate(g) for g in gates),
            # Older hops are history: one that is unreadable (or absurdly deep) ends it, it does not void the record.
            previous=_earlier(earlier, hops - 1) if earlier is not None and hops > 1 else None,
            schema=raw["schema"] if isinstance(raw.get("schema"), int) else 1,
        )

    @property
    def history(self) -> tuple[Promotion, ...]:
        """This promotion and the ones before it (``previous_promotion``), newest first."""
        hops: list[Promotion] = []
        current: Promotion | None = self
        while current is not None:
            hops.append(current)
            current = current.previous
        return tuple(hops)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON data, in the schema's form."""
        return {
            "schema": self.schema,
            "coordinate": self.coordinate,
            "promoted_at": self.promoted_at,
            "promoted_by": dict(self.promoted_by),
            "source": self.source,
            "target": self.target,
            "files": dict(self.files),
            "gates": [
                {"expression": g.expression, "metric": g.metric, "actual": g.actual, "passed": g.passed}
                for g in self.gates
            ],
            "previous_promotion": self.previous.to_dict() if self.previous else None,
        }


def _earlier(raw: object, hops: int) -> Promotion | None:
    try:
        return Promotion._from_dict(raw, hops)
    except InvalidInput:
        return None


def _gate(raw: object) -> GateRecord:
    if not isinstance(raw, dict):
        raise InvalidInput("Not a promotion record: a gate is not a JSON object.")
    actual = raw.get("actual")
    return GateRecord(
        expression=str(raw.get("expression", "")),
        metric=str(raw.get("metric", "")),
        actual=float(actual) if isinstance(actual, (int, float)) and not isinstance(actual, bool) else None,
        passed=raw.get("passed") is True,
    )


@dataclass(frozen=True)
class VersionCard:
    """A version, its card, and its promotion into the repository it was read from (if any)."""

    coordinate: Coordinate
    card: ModelCard
    promotion: Promotion | None = None

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON data, plus ``"promotion"`` (the record, or null)."""
        data: dict[str, Any] = json.loads(self.card.to_json())
        data["promotion"] = self.promotion.to_dict() if self.promotion else None
        return data


@dataclass(frozen=True)
class ArtifactHistory:
    """Every released version of an artifact: those with a card (newest first) and those without."""

    module: Module
    cards: tuple[VersionCard, ...]
    without_card: tuple[Version, ...] = ()


def _cached(cache_dir: Path | None, coordinate: Coordinate, name: str, algorithm: str, digest: str) -> Path | None:
    if cache_dir is None:
        return None
    return cache_dir / "cards" / coordinate.directory / f"{algorithm}-{digest[:40]}" / name


def _read_cache(entry: Path | None, algorithm: str, digest: str) -> bytes | None:
    if entry is None:
        return None
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    # A cache entry is re-verified on every hit (cards are small): a damaged cache is refilled, never believed.
    return data if digest_bytes(data).get(algorithm) == digest else None


def _write_cache(entry: Path, data: bytes) -> None:
    """Write atomically (concurrent readers see a whole entry or none); failing to cache never fails the read."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{entry.name}.", dir=entry.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(name, entry)
    except OSError:
        Path(name).unlink(missing_ok=True)


def _fetch_verified(
    repository: Repository, coordinate: Coordinate, classifier: str, cache_dir: Path | None, *, often_absent: bool
) -> bytes | None:
    """The verified content of a version's ``-CLASSIFIER.json`` sidecar, or ``None`` when it does not exist.

    ``often_absent``: ask whether the file exists first (one request), rather than learn it from four missing
    checksum files.
    """
    path = coordinate.path("json", classifier)
    what = coordinate.file_name("json", classifier)
    if often_absent and not repository.exists(path):
        return None
    try:
        algorithm, digest = remote_checksum(repository, path, what)
    except ArtifactNotFound:
        return None
    entry = _cached(cache_dir, coordinate, coordinate.file_name("json", classifier), algorithm, digest)
    data = _read_cache(entry, algorithm, digest)
    if data is not None:
        return data
    data = repository.read(path)
    digest_bytes(data).verify(algorithm, digest, f"{what} from {repository.display}")
    if entry is not None:
        _write_cache(entry, data)
    return data


def fetch_card(repository: Repository, coordinate: Coordinate, *, cache_dir: Path | None = None) -> ModelCard:
    """The verified card of one version; ``cache_dir`` is the registry cache (``settings.cache_dir``), or None.

    :raises ArtifactNotFound: the version has no card sidecar. :raises IntegrityError: the card does not match its
        checksum, has none, or is not a card of ``coordinate``.
    """
    data = _fetch_verified(repository, coordinate, CARD_CLASSIFIER, cache_dir, often_absent=False)
    if data is None:
        raise ArtifactNotFound(
            f"{coordinate} has no model card ({coordinate.file_name('json', CARD_CLASSIFIER)}) in "
            f"{repository.display}. Check the version with 'registry versions {coordinate.module}'."
        )
    try:
        card = ModelCard.from_json(data)
    except (ValueError, TypeError, RecursionError) as exc:
        raise IntegrityError(
            f"The model card of {coordinate} in {repository.display} is not readable ({exc}). "
            "Ask the repository owner to check it."
        ) from None
    if card.coordinate != str(coordinate):
        raise IntegrityError(
            f"The model card of {coordinate} in {repository.display} describes {card.coordinate!r}; refusing it. "
            "Ask the repository owner to check it."
        )
    return card


def fetch_promotion(
    repository: Repository, coordinate: Coordinate, *, cache_dir: Path | None = None
) -> Promotion | None:
    """The verified record of the version's promotion into ``repository``, or ``None`` if it was never promoted
    there.

    :raises IntegrityError: the record does not match its checksum, or is not a record of ``coordinate``.
    """
    data = _fetch_verified(repository, coordinate, PROMOTION_CLASSIFIER, cache_dir, often_absent=True)
    if data is None:
        return None
    try:
        promotion = Promotion.from_json(data)
    except InvalidInput as exc:
        raise IntegrityError(f"The promotion record of {coordinate} in {repository.display}: {exc}") from None
    if promotion.coordinate != str(coordinate):
        raise IntegrityError(
            f"The promotion record of {coordinate} in {repository.display} describes {promotion.coordinate!r}; "
            "refusing it. Ask the repository owner to check it."
        )
    return promotion


def _select(spec: str | Coordinate, repository: Repository, module: Module | None) -> Coordinate:
    if isinstance(spec, Coordinate):
        return spec
    if module is not None and ":" not in spec:
        return select_version(module, Selector.parse(spec), repository)
    request_module, selector = parse_request(spec)
    return select_version(request_module, selector, repository)


def read_card(
    spec: str | Coordinate,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    module: Module | None = None,
    promotion: bool = True,
) -> VersionCard:
    """The card of the version ``spec`` names, and its promotion record.

    :param spec: ``GROUP:ARTIFACT:SELECTOR`` (``com.acme:churn:1.0.3``, ``com.acme:churn:latest.release``), or
        with ``module`` given, a bare selector (``1.0.3``) of that artifact.
    :param repository: an open repository, or a name/URL/path; ``None`` uses the configured default.
    :param promotion: also read the promotion record (one or two more small requests).
    :raises InvalidCoordinate, InvalidSelector: ``spec`` does not parse. :raises ArtifactNotFound: no such version,
        or it has no card. :raises IntegrityError: the card or record does not match its checksum.
    """
    with using_repository(repository, settings) as (repo, active):
        coordinate = _select(spec, repo, module)
        card = fetch_card(repo, coordinate, cache_dir=active.cache_dir)
        record = fetch_promotion(repo, coordinate, cache_dir=active.cache_dir) if promotion else None
    return VersionCard(coordinate, card, record)


def read_history(
    module: Module,
    repository: Repository,
    *,
    cache_dir: Path | None = None,
    promotions: bool = False,
    versions: Sequence[Version] | None = None,
) -> ArtifactHistory:
    """The cards of every released version of ``module`` (or of ``versions``), newest first, read via the cache."""
    found: list[VersionCard] = []
    without: list[Version] = []
    listed = list_versions(module, repository) if versions is None else list(versions)
    for version in sorted(listed, reverse=True):
        coordinate = module.at(version)
        try:
            card = fetch_card(repository, coordinate, cache_dir=cache_dir)
        except ArtifactNotFound:
            without.append(version)  # deployed by another tool: listed, but without a card
            continue
        record = fetch_promotion(repository, coordinate, cache_dir=cache_dir) if promotions else None
        found.append(VersionCard(coordinate, card, record))
    return ArtifactHistory(module, tuple(found), tuple(without))
