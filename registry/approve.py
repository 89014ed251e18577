"""Approve: a second person's consent to promote a version into one target (four eyes).

``registry approve COORDINATE --to TARGET [-r SOURCE] [--comment TEXT]`` records who approved (the user; the
record sits beside the release in the source, :mod:`registry.approval`). The identity that deployed the version
cannot approve it. ``promote`` then requires the approval where the target sets ``require_approval = true`` or the
promotion asks for the gate ``approved``, and names the approver in its promotion record.
"""

from __future__ import annotations

from registry._util import actor, utc_stamp
from registry.approval import ApprovalRecord, approval_classifier
from registry.coordinates import Coordinate
from registry.events import emit
from registry.exceptions import InvalidInput
from registry.repository.base import Repository
from registry.settings import Settings, using_repository
from registry.store import create_record, fetch_approval, fetch_card, select

__all__ = ["approve"]


def approve(
    spec: str | Coordinate,
    *,
    to: Repository | str,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    comment: str = "",
) -> ApprovalRecord:
    """Approve promoting the version ``spec`` names (in ``repository``, the source) into ``to``.

    :raises InvalidInput: the approver is the identity that deployed the version, or it is approved already.
    :raises ArtifactNotFound: no such version, or it has no model card (no deployer to tell apart).
    """
    with using_repository(repository, settings) as (src, active), using_repository(to, active) as (dst, _):
        coordinate = select(spec, src)
        card = fetch_card(src, coordinate)
        me = actor()
        if me.get("user") == card.deployed_by.get("user"):
            raise InvalidInput(
                f"{coordinate} was deployed by {me.get('user')}, who cannot also approve it (four eyes): ask "
                "someone else to run 'registry approve'. Nothing was recorded."
            )
        target = dst.origin or dst.display
        existing = fetch_approval(src, coordinate, target)
        if existing is None:
            record = ApprovalRecord(str(coordinate), dst.display, utc_stamp(), me, comment)
            if create_record(src, coordinate.path("json", approval_classifier(target)), record.to_json()):
                emit("approve", coordinate, src.display, card=card, by=me, details={"target": dst.display})
                return record
            existing = fetch_approval(src, coordinate, target)
        who = existing.approved_by.get("user", "unknown") if existing else "someone"
        raise InvalidInput(
            f"Promoting {coordinate} into {dst.display} is already approved (by {who}). Nothing was recorded."
        )
