"""Approve: a second person's consent to promote a version into one target (four eyes).

``registry approve COORDINATE --to TARGET [-r SOURCE] [--comment TEXT] [--sign [KEY]]`` records who approved (the
record sits beside the release in the source, :mod:`registry.approval`): the user, and where the approver signs
(``--sign``, or the source's ``sign_with``, like every other file written there) the OpenPGP key, whose detached
signature is written beside the record. The identity that deployed the version cannot approve it: neither the
same user, nor the key that signed the release. ``promote`` then requires the approval where the target sets
``require_approval = true`` or the promotion asks for the gate ``approved``, checks its signature under the
target's policy, and names the approver in its promotion record.
"""

from __future__ import annotations

from pathlib import Path

from registry._util import actor, utc_stamp
from registry.approval import ApprovalRecord, approval_classifier
from registry.checksums import digest_bytes
from registry.coordinates import Coordinate
from registry.events import emit
from registry.exceptions import ArtifactNotFound, InvalidInput
from registry.modelcard import CLASSIFIER as CARD_CLASSIFIER
from registry.repository.base import PathExists, Repository
from registry.settings import Settings, using_repository
from registry.signing import SignatureCheck, Signer, TrustPolicy
from registry.store import create_record, fetch_approval, fetch_card, select
from registry.trust import opening, read_signature, signature_path, signer_for

__all__ = ["approve", "release_signers"]


def approve(
    spec: str | Coordinate,
    *,
    to: Repository | str,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    comment: str = "",
    sign: str | bool | None = None,
) -> ApprovalRecord:
    """Approve promoting the version ``spec`` names (in ``repository``, the source) into ``to``.

    :param sign: sign the approval with this gpg key (``True``: the source's ``sign_with``, else gpg's default
        key; ``False``: never); default: when the source sets ``sign_with``. The record then names the key.
    :raises InvalidInput: the approver is the identity that deployed the version (the same user, or the key that
        signed it), or it is approved already.
    :raises ArtifactNotFound: no such version, or it has no model card (no deployer to tell apart).
    :raises SignatureError: the key cannot sign.
    """
    with opening(repository, settings) as opened, using_repository(to, opened.settings) as (dst, _):
        src = opened.repository
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
            signer = signer_for(sign, opened)
            key = signer.check() if signer is not None else None
            record = ApprovalRecord(str(coordinate), dst.display, utc_stamp(), me, comment, key)
            path = coordinate.path("json", approval_classifier(target))
            if _write(src, coordinate, path, record.to_json(), signer, opened.gnupghome):
                by = {**me, "key": key} if key else me
                emit("approve", coordinate, src.display, card=card, by=by, details={"target": dst.display})
                return record
            existing = fetch_approval(src, coordinate, target)
        who = existing.approved_by.get("user", "unknown") if existing else "someone"
        raise InvalidInput(
            f"Promoting {coordinate} into {dst.display} is already approved (by {who}). Nothing was recorded."
        )


def _write(
    src: Repository, coordinate: Coordinate, path: str, data: bytes, signer: Signer | None, home: Path | None
) -> bool:
    """Sign the record (its ``.asc`` first, refusing a key that signed the release) and create it; ``False`` when
    another approval got there first."""
    if signer is not None:
        signature = signer.sign({path: data})[path]
        mine = _checked(data, signature, home, f"the approval of {coordinate}")
        theirs = release_signers(src, coordinate, home)
        if mine is not None and mine.fingerprints & theirs:
            raise InvalidInput(
                f"{coordinate} was signed by key {mine.signer}, which cannot also approve it (four eyes: the same "
                "identity). Ask someone else to approve it with their own key. Nothing was recorded."
            )
        try:
            for extension, content in digest_bytes(signature).sidecars():
                src.create(f"{signature_path(path)}.{extension}", content)
            src.create(signature_path(path), signature)
        except PathExists:
            return False  # a concurrent approval signed first
    return create_record(src, path, data)


def release_signers(src: Repository, coordinate: Coordinate, home: Path | None) -> frozenset[str]:
    """The fingerprints (signing key and primary key) of the good signature on the version's model card, the file
    that says who deployed it (gpg reading the keyring in ``home``); empty when it is unsigned or gpg cannot tell."""
    path = coordinate.path("json", CARD_CLASSIFIER)
    signature = read_signature(src, path)
    if signature is None:
        return frozenset()
    try:
        card = src.read(path)
    except ArtifactNotFound:
        return frozenset()
    check = _checked(card, signature, home, f"the model card of {coordinate}")
    return check.fingerprints if check is not None and check.accepted else frozenset()


def _checked(data: bytes, signature: bytes, home: Path | None, what: str) -> SignatureCheck | None:
    """The first signature gpg finds in ``signature`` over ``data``, with the user's keyring (in ``home``)."""
    with TrustPolicy().verifier(home) as verifier:
        checks = verifier.verify(data, signature, what)
    return checks[0] if checks else None
