"""Promote: copy one released version, byte for byte and verified, from one repository to another.

The artifact stays immutable: promotion copies every file of the version (jar, POM, model card and any others
listed beside them), each verified against the source's checksum on download and read back from the target
after upload, then adds a promotion record (``churn-1.2.7-promotion.json``: who, when, from, to, gate results)
as a new file in the target, names the version in the target's promotion log (so a catalog there knows which
records exist), and lists the version in the target's ``maven-metadata.xml`` last, so ``latest.release`` there sees
it only when it is complete.

Signatures (``NAME.asc``) are files of the version like any other, so they are copied byte for byte with their
checksums; each signed file is checked against its copy before anything is written, under the source's and the
target's policies (:mod:`registry.trust`), and the record itself can be signed by the promoter.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from registry._util import actor, utc_stamp
from registry.approval import ApprovalRecord, approval_classifier, is_approval_name
from registry.checksums import SIDECAR_SUFFIXES, Digests, digest_bytes
from registry.coordinates import Coordinate
from registry.events import emit
from registry.exceptions import (
    ArtifactNotFound,
    GateFailed,
    IntegrityError,
    InvalidInput,
    SignatureError,
    VersionExists,
)
from registry.fingerprint import normalize_fingerprint
from registry.gates import Gate, GateResult, evaluate
from registry.modelcard import ModelCard
from registry.promotion import PromotionRecord
from registry.repository.base import PathExists, Repository
from registry.settings import Settings
from registry.signing import SignatureCheck, Signer, TrustPolicy
from registry.store import (
    fetch_card,
    fetch_promotion,
    fetch_verified,
    is_listed,
    log_promotion,
    publish,
    read_approval,
    read_yanks,
    remote_checksum,
    select,
)
from registry.trust import (
    check_copies,
    check_signature,
    opening,
    publish_signatures,
    read_signature,
    signer_for,
    wants_signature,
)
from registry.withdrawal import is_record_name

__all__ = ["Promotion", "promote"]


@dataclass(frozen=True)
class Promotion:
    """What a promotion did."""

    coordinate: Coordinate
    source: str
    target: str
    files: tuple[str, ...]
    gates: tuple[GateResult, ...]
    already_present: bool


def _version_files(repository: Repository, coordinate: Coordinate) -> list[str]:
    """The files of a version (sidecars and the source's own promotion record left out), jar last."""
    record = coordinate.file_name("json", "promotion")
    listed = [
        name
        for name in repository.list(coordinate.directory)
        if not name.endswith("/")
        and not name.endswith(SIDECAR_SUFFIXES)
        and not name.startswith(record)
        and not is_record_name(name, coordinate.artifact, str(coordinate.version))  # a yank is the source's own
        and not is_approval_name(name, coordinate.artifact, str(coordinate.version))  # so is an approval
    ]
    names = set(listed) | {coordinate.file_name("pom"), coordinate.file_name("jar")}
    if not repository.exists(coordinate.path("jar")):
        raise ArtifactNotFound(f"{coordinate} does not exist in {repository.display}.")
    # POM first (it is the claim in repositories without atomic folders), the jar last (its presence means done).
    return sorted(names, key=lambda n: (n != coordinate.file_name("pom"), n == coordinate.file_name("jar"), n))


def _record(
    coordinate: Coordinate,
    source: Repository,
    target: Repository,
    files: dict[str, Digests],
    results: Iterable[GateResult],
    previous: PromotionRecord | None,
    signatures: Mapping[str, str],
    approval: ApprovalRecord | None,
) -> bytes:
    approved = None
    if approval is not None:
        approved = {"approved_by": dict(approval.approved_by), "approved_at": approval.approved_at}
        approved["comment"] = approval.comment
        if approval.key:
            approved["key"] = approval.key
    return PromotionRecord(
        coordinate=str(coordinate),
        promoted_at=utc_stamp(),
        promoted_by=actor(),
        source=source.display,
        target=target.display,
        files={name: digests.sha512 for name, digests in sorted(files.items())},
        gates=tuple(result.record() for result in results),
        previous=previous,
        signatures=signatures,
        approval=approved,
    ).to_json()


def promote(
    spec: str | Coordinate,
    *,
    source: Repository | str,
    target: Repository | str,
    gates: Iterable[Gate | str] = (),
    settings: Settings | None = None,
    require_signed_by: str | None = None,
    sign: str | bool | None = None,
    require_approval: bool = False,
) -> Promotion:
    """Copy a released version from ``source`` to ``target``, byte for byte.

    :param spec: ``GROUP:ARTIFACT:VERSION`` or a selector (``latest.release``, ``1.2``), resolved in ``source``.
    :param source: the repository to copy from (open, or a configured name, URL or path).
    :param target: the repository to copy to.
    :param gates: conditions on the model card (``"areaUnderROC>=0.85"``) that must all hold, checked before
        anything is written.
    :param require_signed_by: a full key fingerprint: every file of the version must carry a good signature by
        that key (checked with the other signatures, before anything is written).
    :param sign: sign the promotion record with this gpg key (``True``: the target's ``sign_with``, else gpg's
        default key; ``False``: never); default: when the target sets ``sign_with``.
    :param require_approval: refuse unless someone other than the deployer approved this promotion
        (``registry approve``); also required where the target sets ``require_approval = true``.
    :returns: what was copied; ``already_present`` when the target held identical bytes (nothing to do).
    :raises GateFailed: a gate did not pass (the message names each failure and the actual value), or an approval
        is required and there is none.
    :raises VersionExists: the target holds this version with different bytes.
    :raises IntegrityError: a file does not match its checksum, in the source or after upload.
    :raises SignatureError: a signature is bad, missing where the source or the target requires one, by a key
        either does not trust, or not by ``require_signed_by``; nothing is copied.
    """
    signed_by = normalize_fingerprint(require_signed_by, "--require-signed-by") if require_signed_by else None
    with opening(source, settings) as source_opened, opening(target, source_opened.settings) as target_opened:
        src, dst = source_opened.repository, target_opened.repository
        coordinate = select(spec, src)
        yanked = read_yanks(dst, coordinate.module).yanked().get(str(coordinate.version))
        if yanked is not None:
            raise InvalidInput(
                f"{coordinate} is yanked in {dst.display} ({yanked.reason}); promoting it again would list it. "
                f"Run 'registry unyank {coordinate} -r {dst.display}' first if it should be selected again. "
                "Nothing was copied."
            )
        card = _card(src, coordinate)
        results = tuple(evaluate(gates, card)) if gates else ()
        failed = [r for r in results if not r.passed]
        approval = None
        target_config = target_opened.config
        # Signatures are judged under the source's policy and the target's (which will serve these files).
        policies = (source_opened.policy, target_opened.policy)
        if require_approval or (target_config is not None and target_config.require_approval):
            approval = _approval(src, dst, coordinate, card, policies[1], target_opened.gnupghome)
        if failed:
            raise GateFailed(
                f"Promotion of {coordinate} refused by {len(failed)} gate(s): "
                + "; ".join(map(str, failed))
                + ". Nothing was copied."
            )
        signer = signer_for(sign, target_opened)
        if signer is not None:
            signer.check()

        def check(local: dict[str, Path]) -> dict[str, str]:
            what = f"{coordinate} in {src.display}"
            accepted = check_copies(
                local, policies, source_opened.gnupghome, what, signed_by=signed_by, refused="Nothing was copied."
            )
            _not_self_approved(approval, accepted, what)
            # Recorded: signatures gpg checked and found good (not those whose key is unknown here).
            return {name: found.signer for name, found in accepted.items() if found is not None and found.accepted}

        record = approval.record if approval is not None else None
        done = _copy(coordinate, src, dst, results, check, signer, record)
        if not done.already_present:
            details: dict[str, object] = {"from": src.display, "gates": [r.record().to_dict() for r in results]}
            if record is not None:
                details["approved_by"] = dict(record.approved_by)
                if record.key:
                    details["approval_key"] = record.key
            emit("promote", coordinate, dst.display, card=card if card is not _NO_CARD else None, details=details)
        return done


_NO_CARD = ModelCard("", "", {}, {})  # every gate fails against it: "not recorded in the model card"


@dataclass(frozen=True)
class _Approval:
    """The approval a promotion requires, and the signature it carries (``None``: unsigned, or not checked)."""

    record: ApprovalRecord
    signature: SignatureCheck | None


def _approval(
    src: Repository, dst: Repository, coordinate: Coordinate, card: ModelCard, policy: TrustPolicy, home: Path | None
) -> _Approval:
    """The approval this promotion requires, its signature judged under the target's ``policy``.

    :raises GateFailed: there is none by someone other than the deployer.
    :raises SignatureError: its signature is refused (bad, untrusted, or missing where the target requires
        signatures), or it is not by the key the record names.
    """
    target = dst.origin or dst.display
    found = read_approval(src, coordinate, target)
    if found is None or found[0].approved_by.get("user") == card.deployed_by.get("user"):
        raise GateFailed(
            f"Promoting {coordinate} into {dst.display} needs an approval by someone other than its deployer "
            f"(four eyes): 'registry approve {coordinate} --to TARGET -r SOURCE'. Nothing was copied."
        )
    approval, data = found
    path = coordinate.path("json", approval_classifier(target))
    what = f"The approval of {coordinate} for {dst.display} (in {src.display})"
    signature = read_signature(src, path) if wants_signature(policy) else None
    if signature is None and policy.require:
        raise SignatureError(
            f"{what} is not signed, but {dst.display} requires signatures. Nothing was copied. The approver "
            "signs with 'registry approve --sign KEY' (or sign_with on the source), once the repository owner "
            "has removed the unsigned approval."
        )
    check = check_signature(src, path, data, policy, home, what, refused="Nothing was copied.", signature=signature)
    if approval.key and check is not None and check.accepted and approval.key.upper() not in check.fingerprints:
        raise SignatureError(
            f"{what} names key {approval.key} but is signed by {check.describe()}; refusing it. Nothing was copied."
        )
    return _Approval(approval, check if check is not None and check.accepted else None)


def _not_self_approved(approval: _Approval | None, accepted: Mapping[str, SignatureCheck | None], what: str) -> None:
    """Refuse an approval signed by a key that signed the version's files (the same identity approving)."""
    if approval is None or approval.signature is None:
        return
    key = approval.signature.fingerprints
    if any(found is not None and found.accepted and found.fingerprints & key for found in accepted.values()):
        raise GateFailed(
            f"The approval of {what} is signed by {approval.signature.describe()}, the key that signed the release "
            "itself: the same identity cannot approve its own release (four eyes). Ask someone else to approve "
            "it with their own key. Nothing was copied."
        )


def _card(repository: Repository, coordinate: Coordinate) -> ModelCard:
    try:
        return fetch_card(repository, coordinate)
    except ArtifactNotFound:
        return _NO_CARD


def _copy(
    coordinate: Coordinate,
    src: Repository,
    dst: Repository,
    results: tuple[GateResult, ...],
    check_signatures: Callable[[dict[str, Path]], dict[str, str]],
    signer: Signer | None,
    approval: ApprovalRecord | None = None,
) -> Promotion:
    names = _version_files(src, coordinate)
    with tempfile.TemporaryDirectory(prefix="registry-promote-") as scratch:
        local: dict[str, Path] = {}
        digests: dict[str, Digests] = {}
        for name in names:
            local[name] = Path(scratch) / name
            digests[name] = fetch_verified(src, f"{coordinate.directory}/{name}", local[name], f"{coordinate}: {name}")
        signatures = check_signatures(local)  # before anything is written
        present = {name: _same_in(dst, coordinate, name, digests[name]) for name in names}
        different = [name for name, same in present.items() if same is False]
        if different:
            raise VersionExists(
                f"{coordinate} already exists in {dst.display} with different bytes ({', '.join(different)}); "
                "releases are immutable, so it was not overwritten. Deploy the model as a new build instead."
            )
        missing = [name for name in names if present[name] is None]
        if not missing and is_listed(dst, coordinate):
            return Promotion(coordinate, src.display, dst.display, tuple(names), results, already_present=True)
        # Create-only uploads: a concurrent promotion of the same bytes is harmless, different bytes are refused.
        for name in missing:
            path = f"{coordinate.directory}/{name}"
            for extension, content in digests[name].sidecars():
                _create_or_same(dst, f"{path}.{extension}", content, digest_bytes(content))
            _create_or_same(dst, path, local[name], digests[name])
        # Read every file back from the target: what it now serves must be the bytes we verified at the source.
        for name in names:
            back = Path(scratch) / f"back-{name}"
            check = fetch_verified(dst, f"{coordinate.directory}/{name}", back, f"{coordinate}: {name} after upload")
            if check.sha512 != digests[name].sha512:
                raise IntegrityError(f"{dst.display} serves different bytes for {name} than were uploaded.")
        record_path = coordinate.path("json", "promotion")
        if not dst.exists(record_path):
            previous = fetch_promotion(src, coordinate)
            record = _record(coordinate, src, dst, digests, results, previous, signatures, approval)
            if signer is not None:
                publish_signatures(dst, signer, {record_path: record}, exist_ok=True)
            for extension, content in digest_bytes(record).sidecars():
                _create_or_same(dst, f"{record_path}.{extension}", content, digest_bytes(content))
            _create_or_same(dst, record_path, record, digest_bytes(record), record=True)
        log_promotion(dst, coordinate)  # also when the record was there already: a re-run after a crash
        publish(dst, coordinate.module, [coordinate.version])
    return Promotion(coordinate, src.display, dst.display, tuple(names), results, already_present=False)


def _create_or_same(
    repository: Repository, path: str, source: Path | bytes, digests: Digests, *, record: bool = False
) -> None:
    """Create ``path``; when it exists already, accept it only if it holds the same bytes (or is a sidecar or
    a concurrent promotion's record, which differ only in who and when)."""
    try:
        repository.create(path, source)
    except PathExists:
        if record or path.endswith(SIDECAR_SUFFIXES):
            return
        if not _same(repository, path, digests):
            raise VersionExists(
                f"{path} appeared in {repository.display} with different bytes while promoting; not overwritten."
            ) from None


def _same_in(target: Repository, coordinate: Coordinate, name: str, digests: Digests) -> bool | None:
    """``None`` if the target lacks the version's file ``name``; else whether it holds the same bytes."""
    return _same(target, f"{coordinate.directory}/{name}", digests)


def _same(target: Repository, path: str, digests: Digests) -> bool | None:
    """``None`` if the target lacks ``path``; else whether the target's checksum says it holds the same bytes."""
    try:
        algorithm, theirs = remote_checksum(target, path, path)
    except ArtifactNotFound:
        return None
    return digests.get(algorithm) == theirs
