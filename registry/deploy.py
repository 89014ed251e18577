"""Deploy: a saved model directory becomes an immutable release in a repository."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from registry.archive import check_model_dir, pack
from registry.checksums import Digests, digest_bytes
from registry.compatibility import compare_models
from registry.coordinates import Coordinate, DeployTarget
from registry.exceptions import ArtifactNotFound, ModelChanged, RepositoryUnavailable, VersionExists
from registry.metadata import Metadata
from registry.modelcard import ModelCard
from registry.pom import render_pom
from registry.repository.base import PathExists, Repository, Source
from registry.settings import Settings, using_repository
from registry.store import Cache, fetch_card, publish, read_metadata, upload_version
from registry.versions import Version

__all__ = ["deploy"]

#: How many taken builds a deploy steps over before it gives up (each is one create-only request).
MAX_CLAIM_ATTEMPTS = 64


def _next_build(metadata: Metadata | None, target: DeployTarget) -> int:
    builds = [
        v.build for v in (metadata.releases if metadata else []) if (v.major, v.minor) == (target.major, target.minor)
    ]
    return max(builds) + 1 if builds else 0


def _previous(metadata: Metadata | None, coordinate: Coordinate) -> str | None:
    version = coordinate.version
    earlier = [
        v
        for v in (metadata.releases if metadata else [])
        if (v.major, v.minor) == (version.major, version.minor) and v < version
    ]
    return str(coordinate.module.at(max(earlier))) if earlier else None


def _check_series(
    repository: Repository, metadata: Metadata | None, target: DeployTarget, card: ModelCard, cache: Cache
) -> None:
    """Refuse a model whose stages, features or params differ from the newest build of its series."""
    series = [
        v
        for v in (metadata.releases if metadata else [])
        if (v.major, v.minor) == (target.major, target.minor) and (target.build is None or v.build < target.build)
    ]
    if not series or not card.model.get("stages"):
        return
    previous = target.module.at(max(series))
    try:
        before = fetch_card(repository, previous, cache=cache)
    except ArtifactNotFound:
        return  # deployed without a card (by hand, or by another tool): nothing to compare with
    change = compare_models(before, card)
    if change.level == "none":
        return
    majors = [v.major for v in metadata.releases] if metadata else []
    minors = [v.minor for v in metadata.releases if v.major == target.major] if metadata else []
    if change.level == "major":
        kind, suggestion = "technique or features", f"{target.module}:{max(majors) + 1}.0"
    else:
        kind, suggestion = "configuration", f"{target.module}:{target.major}.{max(minors) + 1}"
    raise ModelChanged(
        f"This model's {kind} differs from {previous}: {change}. A build of {target.major}.{target.minor} must "
        f"be the same model retrained, so deploy it as {suggestion}, or pass allow_change=True (CLI: "
        "--allow-change) to deploy it into this series anyway."
    )


def _pom(coordinate: Coordinate, card: ModelCard) -> bytes:
    properties = {f"model.metric.{name}": str(value) for name, value in card.metrics.items()}
    stages = card.model.get("stages") or []
    if stages:
        properties["model.stages"] = " > ".join(str(s.get("class", "?")).rsplit(".", 1)[-1] for s in stages)
    if card.code:
        properties["model.code.commit"] = str(card.code.get("commit"))
    properties["model.created"] = card.created
    return render_pom(coordinate, card.description, properties)


def _claim(repository: Repository, target: DeployTarget, card: ModelCard, first: int) -> tuple[Coordinate, bytes, bool]:
    """Claim the first free build from ``first`` on: its directory where the repository can create one
    atomically, else its POM, created only if absent. Returns the coordinate, its POM, and whether the POM is
    written (else it is still to be uploaded, create-only, with the other files)."""
    build = first
    for _ in range(MAX_CLAIM_ATTEMPTS if target.build is None else 1):
        coordinate = target.module.at(Version(target.major, target.minor, build))
        pom = _pom(coordinate, card)
        try:
            if not repository.claim(coordinate.directory):
                raise PathExists(coordinate.directory, repository.display)
            if repository.claims_folders():
                return coordinate, pom, False
            repository.create(coordinate.path("pom"), pom)
        except PathExists:
            if target.build is not None:
                raise VersionExists(
                    f"{coordinate} already exists in {repository.display}; releases are immutable. "
                    f"Deploy to {target.module}:{target.major}.{target.minor} to get the next free build."
                ) from None
            build += 1
            continue
        return coordinate, pom, True
    raise RepositoryUnavailable(
        f"Gave up claiming a build of {target} in {repository.display}: builds {first} to {build - 1} were all "
        "taken by concurrent deploys. Try again."
    )


def deploy(
    model_dir: Path | str,
    target: str | DeployTarget,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    card: ModelCard | None = None,
    prepare: Callable[[Path, Coordinate], None] | None = None,
    allow_change: bool = False,
) -> Coordinate:
    """Deploy the model saved in ``model_dir`` as a new release.

    :param model_dir: a directory a model was saved to (for Spark: ``model.write().save(dir)``).
    :param target: ``GROUP:ARTIFACT:MAJOR.MINOR`` to be assigned the next build, or an exact, new
        ``GROUP:ARTIFACT:MAJOR.MINOR.BUILD``.
    :param repository: an open repository, or a name/URL/path; ``None`` uses the configured default.
    :param card: what to record about the model; a minimal card is made if omitted.
    :param allow_change: deploy even if the model's stages, features or params differ from the newest build of
        the series (normally refused with :class:`ModelChanged` and a suggested next minor or major version).
    :param prepare: called with ``model_dir`` and the claimed coordinate just before packing, to stamp the
        coordinate into the saved model (the Spark watermark); it may modify ``model_dir`` in place.
    :returns: the coordinate the model was released as.
    :raises VersionExists: an explicit version is already released.
    :raises InvalidModel: ``model_dir`` is not a non-empty directory of regular files.
    :raises RepositoryUnavailable, AuthenticationFailed, IntegrityError: the repository cannot be used; in
        particular an unreadable ``maven-metadata.xml`` aborts the deploy rather than restarting at build 0.

    The build is claimed first (its folder created atomically, or its POM created only if absent); then every
    file is uploaded create-only, at once, the jar becoming visible last; the version is added to
    ``maven-metadata.xml`` only when all of them are in place, so a failed deploy leaves no version that
    resolves. A build number, once claimed, is never reused.
    """
    target = target if isinstance(target, DeployTarget) else DeployTarget.parse(target)
    model_dir = Path(model_dir)
    check_model_dir(model_dir)
    with using_repository(repository, settings) as (repo, active):
        cache = Cache(active.cache_dir)
        repo.prepare_writes()  # e.g. learn what the server can do while the metadata is read
        metadata = read_metadata(repo, target.module)
        exact = target.exact
        if exact is not None and metadata and str(exact.version) in metadata.versions:
            raise VersionExists(
                f"{exact} already exists in {repo.display}; releases are immutable. "
                f"Deploy to {target.module}:{target.major}.{target.minor} to get the next free build."
            )
        first = target.build if target.build is not None else _next_build(metadata, target)
        draft = card or ModelCard.create(str(target))
        if not allow_change:
            _check_series(repo, metadata, target, draft, cache)
        coordinate, pom, pom_written = _claim(repo, target, draft, first)
        final_card = draft.for_coordinate(str(coordinate), _previous(metadata, coordinate)).to_json()
        card_path = coordinate.path("json", "model")
        card_digests = digest_bytes(final_card)
        files: list[tuple[str, Source]] = [] if pom_written else [(coordinate.path("pom"), pom)]
        files += _with_sidecars(coordinate.path("pom"), digest_bytes(pom), ())
        files += _with_sidecars(card_path, card_digests, final_card)
        with tempfile.TemporaryDirectory(prefix="registry-deploy-") as scratch:
            jar = Path(scratch) / coordinate.file_name("jar")

            def make_jar() -> tuple[Source, list[tuple[str, Source]]]:
                if prepare is not None:
                    prepare(model_dir, coordinate)
                digests = pack(model_dir, jar, coordinate, pom, final_card)
                return jar, _with_sidecars(coordinate.path("jar"), digests, ())

            # The small files upload while the jar is packed; the jar streams meanwhile and ends last; and while
            # its end travels, the metadata is locked and read, to be written once the jar is in place.
            _upload_and_publish(repo, coordinate, files, make_jar)
        # Uploaded create-only and accepted: the next deploy's series check reads this card from the cache.
        cache.keep(coordinate, coordinate.file_name("json", "model"), "sha512", card_digests.sha512, final_card)
        cache.remember(repo.origin, coordinate, coordinate.file_name("json", "model"), "sha512", card_digests.sha512)
        return coordinate


def _upload_and_publish(
    repository: Repository,
    coordinate: Coordinate,
    files: list[tuple[str, Source]],
    make_jar: Callable[[], tuple[Source, list[tuple[str, Source]]]],
) -> None:
    """:func:`upload_version`, then :func:`publish`, which starts (on a thread) as soon as every file but the end
    of the jar is in place, and writes the metadata only once the upload has ended well."""
    uploaded: Future[None] = Future()
    others_done = threading.Event()

    def publish_after_upload() -> None:
        others_done.wait()
        if uploaded.done() and uploaded.exception() is not None:
            return  # failed: the caller raises it
        publish(repository, coordinate.module, [coordinate.version], ready=uploaded.result)

    with ThreadPoolExecutor(1) as pool:
        publishing = pool.submit(publish_after_upload)
        try:
            upload_version(repository, files, coordinate.path("jar"), make_jar, when_ready=others_done.set)
        except BaseException as exc:
            uploaded.set_exception(exc)
            others_done.set()
            publishing.exception()  # the publisher gave up without writing anything
            raise
        uploaded.set_result(None)
        others_done.set()
        publishing.result()


def _with_sidecars(path: str, digests: Digests, content: Source | tuple[()]) -> list[tuple[str, Source]]:
    """The checksum files of ``path`` and, unless ``content`` is ``()``, the file itself."""
    files: list[tuple[str, Source]] = [(f"{path}.{extension}", digest) for extension, digest in digests.sidecars()]
    return files if isinstance(content, tuple) else [*files, (path, content)]
