"""Check a repository against its ``maven-metadata.xml`` files, and repair what crashed deploys left.

A deploy claims a build (its folder, then its POM, create-only), uploads the card and the jar, each after its
checksums, and lists the version in ``maven-metadata.xml`` last. A deploy that dies part-way leaves a version
folder that the metadata does not list. For every artifact (given, or found by walking the repository for
folders that hold a ``maven-metadata.xml`` or release-version folders, skipping plain libraries: artifacts none of
whose versions has a model card), :func:`check` compares the version folders with the metadata and reports:

=============  =======================================================  ==========================================
kind           what was found                                           what ``repair=True`` does
=============  =======================================================  ==========================================
``corrupt``    a file that does not match its checksum sidecars, has    nothing: it is reported, never "repaired"
               none, or a jar that names another coordinate; or a jar
               whose POM or card is gone
``missing``    a listed version whose jar, POM or card is gone          nothing: data loss is not invented back
``unreadable`` a ``maven-metadata.xml`` that cannot be parsed           nothing
``unlisted``   a complete, verified version the metadata does not       lists it, completing the deploy
               list (the deploy died just before its last step)
``incomplete`` a claimed version without a jar (the deploy died         deletes every file but the claim, once
               mid-upload), last written at least ``min_age`` ago       older than ``min_age``
``in-flight``  the same, written less than ``min_age`` ago: perhaps     nothing (a note, not a problem)
               a deploy still running
``abandoned``  a claim with nothing behind it (an empty folder, or      nothing (a note, not a problem)
               only the POM): the build number is retired
``yanked``     a complete, verified version withdrawn by ``registry     nothing, ever (a note, not a problem):
               yank`` (its yank log says so), rightly not listed        a yank is never undone by a repair
``yank-        a version the yank log says is yanked but the metadata   takes it out of the metadata, finishing
unfinished``   still lists (the yank died before its last step)         the yank
``pruned``     a version deleted by ``registry prune``: its POM and     nothing (a note, not a problem)
               its tombstone are left
``prune-       a pruned version with files left, or still listed, or    unlists it, deletes the rest (jar first, as
unfinished``   without its POM or tombstone (the prune died part-way,   the prune does: on Nexus, its component)
               or the server refused the deletion; on Nexus, between    and writes back the tombstone (from the
               deleting the component and writing them back)            log) and a POM claiming the build
``promotion-   an artifact whose promotion log is unreadable, or        writes the log: adds the versions whose
log``          absent while promotion records exist (catalog and        record exists (a union), or writes it anew
               history then ask every version for its record), or      where it is unreadable
               that does not name a version whose record exists
               (catalog and history do not show that promotion)
``no-promo-    an artifact written before the promotion log existed,    writes the empty log (a note, not a
tion-log``     with no promotion record: catalog and history ask        problem: nothing is wrong, only slower)
               every version for one (a request each, answered 404)
=============  =======================================================  ==========================================

**Build numbers are never reused**, even those of versions that were never listed: repairing an
``incomplete`` version deletes its card, its checksums and any partial upload but keeps the claim (the folder and
the POM, which is what a deploy creates first, create-only), so the next deploy steps over that build. A number
that was claimed may have been seen: the Spark watermark stamps it into the saved model before packing, Ivy
caches a POM it fetched by exact version, and logs name it. A gap in the builds costs nothing; two different
models that were both once called ``1.0.7`` could cost a production incident.

Age is the newest modification time of the version's files: the file's mtime in a local repository, the
``Last-Modified`` of a HEAD over HTTP. When it cannot be told, the version counts as in flight and is left alone.
``min_age`` must exceed the longest upload (and any clock skew between this host and an HTTP server).
"""

from __future__ import annotations

import enum
import functools
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from registry.archive import check_embedded_pom
from registry.checksums import ALGORITHMS
from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidCoordinate, InvalidInput, RegistryError
from registry.promotion import CLASSIFIER as PROMOTION_CLASSIFIER
from registry.repository.base import Repository
from registry.store import (
    fetch_verified,
    finish_prune,
    pruned_gone,
    pruned_leftovers,
    publish,
    read_metadata,
    read_promotion_log,
    read_yanks,
    repair_promotion_log,
    unpublish,
)
from registry.versions import Version
from registry.withdrawal import YankEvent

__all__ = ["DEFAULT_MIN_AGE", "Finding", "Kind", "Report", "check", "discover"]

#: Leftovers younger than this (seconds) may belong to a deploy that is still running.
DEFAULT_MIN_AGE = 3600.0
_MAX_FOLDERS = 100_000  # a walk of a larger tree is refused rather than left to run for hours
_MAX_DEPTH = 32
_METADATA = "maven-metadata.xml"


class Kind(enum.Enum):
    """What a finding is about; see the module docstring."""

    CORRUPT = "corrupt"
    MISSING = "missing"
    UNREADABLE = "unreadable"
    UNLISTED = "unlisted"
    INCOMPLETE = "incomplete"
    IN_FLIGHT = "in-flight"
    ABANDONED = "abandoned"
    YANKED = "yanked"
    YANK_UNFINISHED = "yank-unfinished"
    PRUNED = "pruned"
    PRUNE_UNFINISHED = "prune-unfinished"
    PROMOTION_LOG = "promotion-log"
    NO_PROMOTION_LOG = "no-promotion-log"

    @property
    def is_problem(self) -> bool:
        """Whether the finding makes the repository unclean until it is repaired."""
        return self not in (Kind.IN_FLIGHT, Kind.ABANDONED, Kind.YANKED, Kind.PRUNED, Kind.NO_PROMOTION_LOG)


@dataclass(frozen=True)
class Finding:
    """One thing found about one version (or, with ``version`` None, about an artifact's metadata)."""

    module: Module
    version: str | None
    kind: Kind
    detail: str
    repaired: str | None = None  # what --repair did about it

    @property
    def outstanding(self) -> bool:
        """A problem that is still there."""
        return self.kind.is_problem and self.repaired is None

    def __str__(self) -> str:
        where = f"{self.module}:{self.version}" if self.version else str(self.module)
        done = f" -> repaired: {self.repaired}" if self.repaired else ""
        return f"{where}: {self.kind.value}: {self.detail}{done}"


@dataclass(frozen=True)
class Report:
    """What :func:`check` found in one repository."""

    repository: str
    modules: tuple[Module, ...]
    versions: int  # version folders and listed versions examined
    findings: tuple[Finding, ...]

    @property
    def clean(self) -> bool:
        """No problem is left (notes such as ``abandoned`` do not count)."""
        return not any(f.outstanding for f in self.findings)

    def summary(self) -> str:
        """One line: what was checked, what was found, what is left."""
        counts = Counter(f.kind.value + (" (repaired)" if f.repaired else "") for f in self.findings)
        found = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing wrong"
        left = sum(f.outstanding for f in self.findings)
        verdict = "clean" if not left else f"{left} problem(s) left"
        return (
            f"fsck {self.repository}: {len(self.modules)} artifact(s), {self.versions} version(s) checked: "
            f"{found}; {verdict}."
        )


def check(
    repository: Repository,
    modules: Iterable[Module | str] | None = None,
    *,
    repair: bool = False,
    min_age: float = DEFAULT_MIN_AGE,
) -> Report:
    """Compare every version folder of ``modules`` with their metadata; with ``repair``, fix what is safe to fix.

    :param modules: the artifacts to check (``Module`` or ``"group:artifact"``); ``None`` walks the repository
        for every artifact that holds a model (see :func:`discover`).
    :param repair: list complete unlisted versions; delete the leftovers of incomplete ones older than
        ``min_age`` (keeping their claim); write the promotion log where it lacks a version whose record exists.
        Corrupt and missing versions are never touched.
    :param min_age: seconds since the last write before an incomplete version is taken for a dead deploy.
    :returns: the findings, in repository order; ``Report.clean`` says whether any problem is left.
    :raises RepositoryUnavailable, AuthenticationFailed: the repository cannot be read (or, with ``repair``,
        written). :raises InvalidCoordinate: a module given as text does not parse.
    """
    if not min_age >= 0:
        raise InvalidInput(f"Invalid minimum age {min_age!r}: it must be a number of seconds, 0 or more.")
    explicit = modules is not None
    candidates = (
        sorted({m if isinstance(m, Module) else Module.parse(m) for m in modules})
        if modules is not None
        else discover(repository)
    )
    checked: list[Module] = []
    findings: list[Finding] = []
    examined = 0
    with tempfile.TemporaryDirectory(prefix="registry-fsck-") as scratch:
        for module in candidates:
            result = _check_module(repository, module, Path(scratch), repair, min_age, explicit)
            if result is not None:
                checked.append(module)
                examined += result[0]
                findings += result[1]
    return Report(repository.display, tuple(checked), examined, tuple(findings))


def discover(repository: Repository) -> list[Module]:
    """Every artifact in the repository: folders holding ``maven-metadata.xml`` or release-version folders
    (models or not: :func:`check` skips those without a model card)."""
    found: set[Module] = set()
    pending = [""]
    visited = 0
    while pending:
        folder = pending.pop()
        visited += 1
        if visited > _MAX_FOLDERS:
            raise RegistryError(
                f"{repository.display} has more than {_MAX_FOLDERS} folders; name the artifacts to check instead."
            )
        names = repository.list(folder)
        folders = [n for n in names if n.endswith("/")]
        releases = [n for n in folders if Version.try_parse(n[:-1]) is not None]
        if folder and (_METADATA in names or releases):
            module = _module_at(folder)
            if module is not None:
                found.add(module)
        if folder.count("/") < _MAX_DEPTH:
            pending += [folder + n for n in folders if n not in releases]
    return sorted(found)


def _module_at(folder: str) -> Module | None:
    parts = folder.strip("/").split("/")
    if len(parts) < 2:
        return None
    try:
        return Module.parse(f"{'.'.join(parts[:-1])}:{parts[-1]}")
    except InvalidCoordinate:
        return None  # another tool's artifact, named outside our rules: not ours to judge


@dataclass(frozen=True)
class _Files:
    """The files of one version folder, by role."""

    coordinate: Coordinate
    names: frozenset[str]
    temporary: tuple[str, ...]  # hidden partial uploads a killed local deploy left

    def name(self, role: str) -> str:
        return _role_names(self.coordinate)[role]

    def has(self, role: str) -> bool:
        return self.name(role) in self.names

    def has_name(self, extension: str, classifier: str) -> bool:
        return self.coordinate.file_name(extension, classifier) in self.names

    def is_model(self) -> bool:
        """Whether this is a model version: its card, or a checksum of it, is here."""
        card = self.name("card")
        return card in self.names or any(f"{card}.{a}" in self.names for a in ALGORITHMS)

    def ours(self) -> list[str]:
        """Every file a deploy writes that is present: the three files, their signatures, and their sidecars."""
        candidates = [self.name(r) for r in ("pom", "card", "jar")]
        candidates += [f"{name}.asc" for name in candidates]
        return [n for n in (*candidates, *(f"{c}.{a}" for c in candidates for a in ALGORITHMS)) if n in self.names]


def _role_names(coordinate: Coordinate) -> dict[str, str]:
    return {
        "pom": coordinate.file_name("pom"),
        "card": coordinate.file_name("json", "model"),
        "jar": coordinate.file_name("jar"),
    }


def _check_module(
    repository: Repository, module: Module, scratch: Path, repair: bool, min_age: float, explicit: bool
) -> tuple[int, list[Finding]] | None:
    """``(versions examined, findings)``; None for a discovered artifact that is not a model (no version has a
    model card: a library deployed by Maven, or one that a local repository caches), which is not ours to judge."""
    folders = {
        version
        for version in (Version.try_parse(n[:-1]) for n in repository.list(module.path) if n.endswith("/"))
        if version is not None
    }
    contents = {version: _files(repository, module.at(version)) for version in sorted(folders)}
    if not explicit and not any(files.is_model() for files in contents.values()):
        return None
    try:
        metadata = read_metadata(repository, module)
    except IntegrityError as exc:
        return 0, [Finding(module, None, Kind.UNREADABLE, f"{exc} Its versions were not checked.")]
    try:
        log = read_yanks(repository, module)
        yanked, pruned = log.yanked(), log.pruned()
    except IntegrityError as exc:
        return 0, [Finding(module, None, Kind.UNREADABLE, f"{exc} Its versions were not checked.")]
    listed = set(metadata.releases) if metadata else set()
    findings: list[Finding] = []
    to_list: list[tuple[Version, int]] = []
    to_unlist: list[tuple[Version, int]] = []
    tombstoned = {v for v in map(Version.try_parse, pruned) if v is not None}  # a Nexus prune may leave no folder
    for version in sorted(listed | folders | tombstoned):
        coordinate = module.at(version)
        files = contents.get(version) or _Files(coordinate, frozenset(), ())
        if str(version) in pruned:
            findings.append(_check_pruned(repository, coordinate, version in listed, repair, pruned[str(version)]))
            continue
        if version in listed:
            finding = _check_listed(repository, files, scratch)
            if finding is None and str(version) in yanked:
                detail = _yank_detail(yanked[str(version)], "but still listed in maven-metadata.xml")
                finding = Finding(module, str(version), Kind.YANK_UNFINISHED, detail)
                if repair:
                    to_unlist.append((version, len(findings)))
        else:
            finding = _check_unlisted(repository, files, scratch, repair and str(version) not in yanked, min_age)
            if finding is not None and finding.kind is Kind.UNLISTED and str(version) in yanked:
                detail = _yank_detail(yanked[str(version)], "complete, and rightly not listed")
                finding = Finding(module, str(version), Kind.YANKED, detail)
            if finding is not None and finding.kind is Kind.UNLISTED and repair:
                to_list.append((version, len(findings)))
        if finding is not None:
            findings.append(finding)
    for versions, change, done in (
        (to_list, functools.partial(publish, first=metadata is None), "listed in maven-metadata.xml"),
        (to_unlist, unpublish, "taken out of maven-metadata.xml"),
    ):
        if versions:
            change(repository, module, [v for v, _ in versions])
        for _, index in versions:
            old = findings[index]
            findings[index] = Finding(old.module, old.version, old.kind, old.detail, done)
    promoted = {str(v) for v, files in contents.items() if files.has_name("json", PROMOTION_CLASSIFIER)}
    listed_model = metadata is not None and any(files.is_model() for files in contents.values())
    log_finding = _check_promotion_log(repository, module, promoted, repair, listed_model)
    return len(listed | folders | tombstoned), findings + ([log_finding] if log_finding else [])


def _check_promotion_log(
    repository: Repository, module: Module, promoted: set[str], repair: bool, listed_model: bool
) -> Finding | None:
    """The artifact's promotion log against the versions with a promotion record. ``listed_model``: it has metadata
    and a model card (a library, or an artifact not yet published, which writes the log, is not told it lacks one)."""
    kind = Kind.PROMOTION_LOG
    try:
        log = read_promotion_log(repository, module)
    except IntegrityError as exc:
        problem = str(exc).rsplit(" Run 'registry fsck", 1)[0].rstrip(".")  # the suffix below says it
    else:
        unnamed = sorted(promoted - log.versions) if log is not None else []
        if log is None and promoted:
            problem = (
                f"no promotion log, while {len(promoted)} version(s) have a promotion record: catalog and history "
                "ask every version for its record (a request each, most answered 404)"
            )
        elif unnamed:
            problem = (
                f"the promotion log does not name {', '.join(unnamed[:5])}{', ...' if len(unnamed) > 5 else ''}, "
                "whose promotion record exists: catalog and history do not show those promotions"
            )
        elif log is None and listed_model:  # nothing wrong, only slower: a note
            kind, problem = (
                Kind.NO_PROMOTION_LOG,
                (
                    "no promotion log (written before there was one): catalog and history ask every version for a "
                    "promotion record, a request each"
                ),
            )
        else:
            return None
    repaired = None
    if repair:
        repair_promotion_log(repository, module, promoted)
        repaired = f"wrote the promotion log ({len(promoted)} version(s) with a record)"
    return Finding(module, None, kind, f"{problem}; 'registry fsck --repair' writes it", repaired)


def _check_pruned(
    repository: Repository, coordinate: Coordinate, listed: bool, repair: bool, tombstone: YankEvent
) -> Finding:
    """A pruned version: whole in its tombstone, or left unfinished by a crash or a refused deletion (then
    ``repair`` finishes it the way the prune would have)."""
    version = str(coordinate.version)
    when = f"pruned at {tombstone.at} ({tombstone.reason})"
    names = [n for n in repository.list(coordinate.directory) if not n.endswith("/")]
    left, gone = pruned_leftovers(repository, coordinate, names), pruned_gone(coordinate, names)
    if not left and not listed and not gone:
        return Finding(coordinate.module, version, Kind.PRUNED, f"{when}; its POM and tombstone remain")
    wrong = ["still listed"] if listed else []
    wrong += [f"{len(left)} file(s) left ({', '.join(left[:3])})"] if left else []
    wrong += [f"{' and '.join(gone)} gone"] if gone else []
    detail = f"{when}, but {', '.join(wrong)}"
    repaired = None
    if repair:
        try:
            finish_prune(repository, coordinate, tombstone, repository.removal(coordinate.directory))
        except RegistryError as exc:
            detail += f"; not repaired: {exc}"
        else:
            repaired = "finished the prune"
    return Finding(coordinate.module, version, Kind.PRUNE_UNFINISHED, detail, repaired)


def _yank_detail(event: YankEvent, state: str) -> str:
    who = event.by.get("user", "unknown")
    return f"yanked by {who} at {event.at} ({event.reason}); {state}"


def _files(repository: Repository, coordinate: Coordinate) -> _Files:
    names = frozenset(n for n in repository.list(coordinate.directory) if not n.endswith("/"))
    return _Files(
        coordinate, names, repository.leftovers(coordinate.directory, tuple(_role_names(coordinate).values()))
    )


def _check_listed(repository: Repository, files: _Files, scratch: Path) -> Finding | None:
    module, version = files.coordinate.module, str(files.coordinate.version)
    absent = [files.name(r) for r in ("jar", "pom", "card") if not files.has(r)]
    if absent:
        return Finding(
            module,
            version,
            Kind.MISSING,
            f"listed in maven-metadata.xml, but {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} gone "
            "(data loss: restore from a backup; fsck will not invent it)",
        )
    problem = _verify(repository, files, scratch)
    if problem:
        return Finding(module, version, Kind.CORRUPT, f"{problem}; restore it from a backup (not repaired)")
    return None


def _check_unlisted(
    repository: Repository, files: _Files, scratch: Path, repair: bool, min_age: float
) -> Finding | None:
    module, version = files.coordinate.module, str(files.coordinate.version)
    if files.has("jar"):
        absent = [files.name(r) for r in ("pom", "card") if not files.has(r)]
        problem = f"its {', '.join(absent)} is gone" if absent else _verify(repository, files, scratch)
        if problem:
            return Finding(module, version, Kind.CORRUPT, f"not listed, and {problem}; left as it is (not repaired)")
        return Finding(module, version, Kind.UNLISTED, "complete and verified, but not listed in maven-metadata.xml")
    claim = {files.name("pom"), *(f"{files.name('pom')}.{a}" for a in ALGORITHMS)}
    leftovers = [n for n in files.ours() if n not in claim] + list(files.temporary)
    if not leftovers:
        what = "only its POM" if files.has("pom") else "an empty folder"
        return Finding(module, version, Kind.ABANDONED, f"claimed, {what}, never listed; the build number is retired")
    age = _age(repository, files.coordinate.directory, [*leftovers, *(n for n in claim if n in files.names)])
    described = f"claimed but has no jar ({len(leftovers)} leftover file(s): {', '.join(leftovers[:4])}" + (
        ", ...)" if len(leftovers) > 4 else ")"
    )
    if age is None or age < min_age:
        when = "at an unknown time" if age is None else f"{age:.0f} s ago"
        return Finding(
            module,
            version,
            Kind.IN_FLIGHT,
            f"{described}, last written {when}, less than --min-age {min_age:g} s: perhaps a deploy still running; "
            "left alone",
        )
    repaired = None
    if repair:
        for name in leftovers:
            repository.delete(f"{files.coordinate.directory}/{name}")
        repaired = f"deleted {len(leftovers)} file(s), kept the claim so that build {version} is never reused"
    return Finding(module, version, Kind.INCOMPLETE, f"{described}, last written {age:.0f} s ago", repaired)


def _verify(repository: Repository, files: _Files, scratch: Path) -> str | None:
    """Why the POM, card or jar does not match its checksums (or the jar another coordinate), or None."""
    for role in ("pom", "card", "jar"):
        name = files.name(role)
        sidecars = [a for a in ALGORITHMS if f"{name}.{a}" in files.names]
        if not sidecars:
            return f"{name} has no checksum file"
        local = scratch / name
        try:
            fetch_verified(repository, f"{files.coordinate.directory}/{name}", local, name, every=sidecars)
            if role == "jar":
                check_embedded_pom(local, files.coordinate)
        except IntegrityError as exc:
            return str(exc)
        except ArtifactNotFound:
            return f"{name} disappeared while it was being checked"
        finally:
            local.unlink(missing_ok=True)
    return None


def _age(repository: Repository, directory: str, names: Iterable[str]) -> float | None:
    """Seconds since the newest of ``names`` was written; None when any of them cannot be dated."""
    stamps = [repository.modified(f"{directory}/{name}") for name in names]
    if not stamps or any(s is None for s in stamps):
        return None
    return time.time() - max(s for s in stamps if s is not None)
