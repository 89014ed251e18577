"""Verify: every file of one version, against its checksums and its OpenPGP signature, as ``registry verify``
prints it.

Each file of the version folder (checksum sidecars aside) is downloaded and checked against every checksum
sidecar it has; each file that is not itself a signature is judged by its ``NAME.asc`` under the repository's
policy (:mod:`registry.signing`): who signed it (fingerprint, user ID, date), or why it is refused. A signature
that cannot be checked (its key is not in the keyring) counts as a failure here, even where ``resolve`` lets it
pass: this command is asked to verify. ``require_signatures`` covers the release (jar, POM, card and any other
file deployed with it), not the promotion record a promotion adds: a signed record is checked, an unsigned one is
fine.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from registry.checksums import SIDECAR_SUFFIXES, STRONGEST_FIRST
from registry.coordinates import Coordinate
from registry.exceptions import ArtifactNotFound, IntegrityError, SignatureError
from registry.promotion import CLASSIFIER as PROMOTION_CLASSIFIER
from registry.repository.base import Repository
from registry.settings import Settings
from registry.signing import EXTENSION, SignatureCheck, TrustPolicy, Verifier
from registry.store import fetch_verified, select
from registry.trust import opening

__all__ = ["FileCheck", "VersionCheck", "verify"]


@dataclass(frozen=True)
class FileCheck:
    """One file: what its checksums and its signature say, and whether that is acceptable."""

    name: str
    checksum: str
    signature: str
    signer: SignatureCheck | None
    ok: bool

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}  checksum: {self.checksum}  signature: {self.signature}"


@dataclass(frozen=True)
class VersionCheck:
    """Every file of one version, checked."""

    coordinate: Coordinate
    repository: str
    files: tuple[FileCheck, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    def summary(self) -> str:
        failed = [f.name for f in self.files if not f.ok]
        verdict = "all verified" if not failed else f"{len(failed)} failed ({', '.join(failed)})"
        return f"{self.coordinate} in {self.repository}: {len(self.files)} file(s), {verdict}."


def _checksum(repository: Repository, coordinate: Coordinate, name: str, names: set[str], local: Path) -> str:
    """Download ``name`` into ``local`` and check every checksum sidecar it has; raise IntegrityError if wrong."""
    present = [a for a in STRONGEST_FIRST if f"{name}.{a}" in names]
    if not present:
        raise IntegrityError("no checksum file (.sha512, .sha256, .sha1 or .md5)")
    fetch_verified(repository, f"{coordinate.directory}/{name}", local, name, every=present)
    return f"{', '.join(present)} ok"


def _signature(
    name: str, local: Path, files: dict[str, Path], policy: TrustPolicy, verifier: Verifier | None, what: str
) -> tuple[str, SignatureCheck | None, bool]:
    if name.endswith(f".{EXTENSION}"):
        return f"(the signature of {name.removesuffix('.' + EXTENSION)})", None, True
    signature = files.get(f"{name}.{EXTENSION}")
    try:
        if signature is None or verifier is None:
            policy.judge(what, None)
            return "unsigned", None, True
        check = policy.judge(what, verifier.verify(local, signature.read_bytes(), what))
    except SignatureError as exc:
        return f"REFUSED: {exc}", None, False
    if check is None:
        return "unsigned", None, True
    if check.status == "no-key":
        return f"cannot be checked: the public key of {check.signer} is not in the keyring", check, False
    note = " (the key has expired since)" if check.status == "expired-key" else ""
    return f"signed by {check.describe()}{note}", check, True


def verify(
    spec: str | Coordinate,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
) -> VersionCheck:
    """Check every file of the version ``spec`` names (a coordinate or ``GROUP:ARTIFACT:SELECTOR``).

    :returns: one :class:`FileCheck` per file; ``VersionCheck.ok`` is whether all passed.
    :raises ArtifactNotFound: no such version. :raises ConfigError: a file is signed, and gpg is not installed.
    """
    with opening(repository, settings) as opened:
        repo, policy = opened.repository, opened.policy
        coordinate = select(spec, repo)
        names = {n for n in repo.list(coordinate.directory) if not n.endswith("/")}
        if coordinate.file_name("jar") not in names:
            raise ArtifactNotFound(f"{coordinate} does not exist in {repo.display}.")
        signed = any(n.endswith(f".{EXTENSION}") for n in names)
        record = coordinate.file_name("json", PROMOTION_CLASSIFIER)
        checks: list[FileCheck] = []
        with tempfile.TemporaryDirectory(prefix="registry-verify-") as scratch:
            files: dict[str, Path] = {}
            sums: dict[str, str] = {}
            for name in sorted(n for n in names if not n.endswith(SIDECAR_SUFFIXES)):
                local = Path(scratch) / name
                try:
                    sums[name] = _checksum(repo, coordinate, name, names, local)
                    files[name] = local
                except (IntegrityError, ArtifactNotFound) as exc:
                    sums[name] = f"FAILED: {exc}"
            verifier = opened.verifier() if signed else None
            with contextlib.ExitStack() as stack:
                if verifier is not None:
                    stack.enter_context(verifier)
                for name, checksum in sums.items():
                    what = f"{name} of {coordinate} in {repo.display}"
                    if name not in files:
                        checks.append(FileCheck(name, checksum, "not checked", None, False))
                        continue
                    judged = replace(policy, require=False) if name == record else policy
                    text, signer, good = _signature(name, files[name], files, judged, verifier, what)
                    checks.append(FileCheck(name, checksum, text, signer, good))
    return VersionCheck(coordinate, repo.display, tuple(checks))
