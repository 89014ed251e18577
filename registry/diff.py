"""Diff: what changed between two model versions, from their cards alone.

The differences are computed by :mod:`registry.compare`, the engine the versioning guard uses too (its docstring
says how stages are paired and what each section holds): ``metrics`` (with ``b - a``), ``params`` (per stage),
``stages``, ``input_schema``, ``training_data``, ``code`` and ``labels``.
"""

from __future__ import annotations

from registry.compare import SECTIONS, CardDiff, Change, diff_cards
from registry.repository.base import Repository
from registry.settings import Settings, using_repository
from registry.store import Cache, VersionCard, fetch_card, select

__all__ = ["SECTIONS", "CardDiff", "Change", "diff", "diff_cards"]


def diff(
    a: str,
    b: str,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
) -> tuple[VersionCard, VersionCard, CardDiff]:
    """Compare two versions.

    :param a: ``GROUP:ARTIFACT:SELECTOR``, e.g. ``com.acme:churn:1.0.2`` or ``com.acme:churn:latest.release``.
    :param b: the same, or a bare selector (``1.0.3``) meaning that version of ``a``'s artifact.
    :returns: both versions' cards and their differences.
    :raises InvalidCoordinate, InvalidSelector: a spec does not parse. :raises ArtifactNotFound: a version, or its
        card, does not exist. :raises IntegrityError: a card does not match its checksum.
    """
    with using_repository(repository, settings) as (repo, active):
        cache = Cache(active.cache_dir)
        first_at = select(a, repo)
        first = VersionCard(first_at, fetch_card(repo, first_at, cache=cache))
        second_at = select(b, repo, first_at.module)
        second = VersionCard(second_at, fetch_card(repo, second_at, cache=cache))
    return first, second, diff_cards(first.card, second.card)
