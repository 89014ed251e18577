"""Show: the model card of one version and its promotion record, as ``registry show`` prints them.

Both are JSON sidecars beside the jar (``churn-1.0.3-model.json``, schema in :mod:`registry.modelcard`;
``churn-1.0.3-promotion.json``, schema in :mod:`registry.promotion`), read and verified by :mod:`registry.store`.

Where the repository has a signature policy, showing a version means vouching for it: the jar's signature is
checked too, as ``resolve`` checks it (the same :func:`registry.trust.checked_model`: the jar is downloaded into the
cache and extracted there, so a later resolve is warm). Without a policy, ``show`` stays cheap and reads only the
card (and its signature, which must then be good if present); the jar is checked only when the cache already holds
it, which costs no request.
"""

from __future__ import annotations

from registry.coordinates import Coordinate, Module
from registry.repository.base import Repository
from registry.settings import Settings
from registry.store import Cache, VersionCard, fetch_card, fetch_promotion, read_yanks, select
from registry.trust import UNREAD, check_card, checked_model, opening, recorded_unsigned

__all__ = ["VersionCard", "read_card"]


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
    :param promotion: also read the promotion record and the yank log (two or three more small requests).
    :raises InvalidCoordinate, InvalidSelector: ``spec`` does not parse. :raises ArtifactNotFound: no such version,
        or it has no card. :raises IntegrityError: the card or record does not match its checksum.
        :raises SignatureError: the card's signature, or where the repository has a signature policy (or the jar is
        cached) the jar's, is bad, by a key the repository does not trust, or missing where the repository
        requires one.
    """
    with opening(repository, settings) as opened:
        repo, active = opened.repository, opened.settings
        cache = Cache(active.cache_dir)
        coordinate = select(spec, repo, module)
        card = fetch_card(repo, coordinate, cache=cache)
        policy = opened.policy
        signature = None if recorded_unsigned(card, policy) else UNREAD
        check_card(opened, coordinate, refused="It is not shown.", cache=cache, signature=signature)
        if policy.active or cache.model(repo.origin, coordinate) is not None:
            checked_model(opened, coordinate, cache, refused="It is not shown.")
        record = fetch_promotion(repo, coordinate, cache=cache) if promotion else None
        yanked = read_yanks(repo, coordinate.module).yanked().get(str(coordinate.version)) if promotion else None
    return VersionCard(coordinate, card, record, yanked)
