"""Deploy: a saved model directory becomes an immutable release in a repository."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, NamedTuple

from registry.archive import check_model_dir, model_digests, pack, saved_spark_version, with_replaced
from registry.checksums import Digests, digest_bytes
from registry.compatibility import compare_models
from registry.coordinates import Coordinate, DeployTarget
from registry.events import emit
from registry.exceptions import (
    ArtifactNotFound,
    InvalidInput,
    ModelChanged,
    RegistryError,
    RepositoryUnavailable,
    VersionExists,
)
from registry.lineage import code_lineage
from registry.metadata import Metadata
from registry.modelcard import ModelCard
from registry.pom import jvm_runtime, render_pom
from registry.repository.base import PathExists, Repository, Source
from registry.repository.growing import GrowingFile
from registry.savedmodel import SavedModel, output_columns, read_saved_model, watermark_rewrites
from registry.settings import Settings
from registry.signing import Signer
from registry.store import Cache, fetch_card, publish, read_metadata, upload_version
from registry.trust import opening, signature_path, signer_for
from registry.versions import Version

__all__ = ["RUNTIME_PRESENT", "Attachment", "deploy", "release_jar"]

log = logging.getLogger("registry.deploy")

#: How many taken builds a deploy steps over before it gives up (each is one create-only request).
MAX_CLAIM_ATTEMPTS = 64


class Attachment(NamedTuple):
    """One more file of the release, made before the build is claimed: ``ARTIFACT-VERSION-CLASSIFIER.EXTENSION``
    (e.g. the portable twin, ``onnx``/``onnx``), uploaded with its checksums and, where the deploy signs, its
    ``.asc``, before the metadata lists the version."""

    classifier: str
    extension: str
    content: bytes


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
    if not series or not card.stages:
        return
    previous = target.module.at(max(series))
    try:
        before = fetch_card(repository, previous, cache=cache)
    except ArtifactNotFound:
        return  # deployed without a card (by hand, or by another tool): nothing to compare with
    verdict = compare_models(before, card)
    if verdict.level == "none":
        return
    majors = [v.major for v in metadata.releases] if metadata else []
    minors = [v.minor for v in metadata.releases if v.major == target.major] if metadata else []
    if verdict.level == "major":
        kind, suggestion = "technique or features", f"{target.module}:{max(majors) + 1}.0"
    else:
        kind, suggestion = "configuration", f"{target.module}:{target.major}.{max(minors) + 1}"
    raise ModelChanged(
        f"This model's {kind} differs from {previous}: {verdict}. A build of {target.major}.{target.minor} must "
        f"be the same model retrained, so deploy it as {suggestion}, or pass allow_change=True (CLI: "
        "--allow-change) to deploy it into this series anyway."
    )


def _draft(
    target: DeployTarget,
    card: ModelCard | None,
    metrics: Mapping[str, float] | None,
    description: str,
    labels: Sequence[str],
    code: Mapping[str, Any] | Literal["git"] | None,
    saved: SavedModel | None = None,
) -> ModelCard:
    """The card to deploy: ``card``, or one made from the keywords (and the stages of a ``saved`` Spark model,
    as :func:`registry.spark.deploy` records them); both at once is refused, not merged."""
    given = [name for name, value in [("metrics", metrics), ("description", description), ("labels", labels)] if value]
    given += ["code"] if code is not None else []
    if card is None:
        return ModelCard.create(
            str(target),
            description=description,
            labels=list(labels),
            metrics=metrics,
            code=code_lineage() if code == "git" else code,
            model=saved.model if saved else None,
            output_columns=output_columns(saved.model) if saved else None,
            spark_version=saved.spark_version if saved else None,
        )
    if given:
        raise InvalidInput(
            f"deploy() was given a card and {', '.join(given)}: record them in the card "
            "(ModelCard.create(..., metrics=..., labels=..., description=..., code=...)), or pass them without one."
        )
    return card


def _pom(coordinate: Coordinate, card: ModelCard, runtime: Coordinate | None = None) -> bytes:
    properties = {f"model.metric.{name}": str(value) for name, value in card.metrics.items()}
    top = [stage.short_class for stage in card.stages if "." not in stage.path]
    if top:
        properties["model.stages"] = " > ".join(top)
    if card.lineage:
        properties["model.code.commit"] = card.lineage.commit
    properties["model.created"] = card.created
    return render_pom(coordinate, card.description, properties, [runtime] if runtime is not None else [])


#: Whether a repository (by origin) holds this registry's JVM runtime, as first asked in this process: one request
#: per repository and process, made while the metadata is read (``registry jvm publish`` records its own).
RUNTIME_PRESENT: dict[str, bool] = {}


def _runtime_in(repository: Repository) -> Coordinate | None:
    """The JVM runtime release the model's POM depends on, when ``repository`` holds it; else ``None``, noted once
    (a POM dependency that Spark's Ivy cannot fetch would fail every ``--packages`` of the model)."""
    runtime = jvm_runtime()
    key = repository.origin or repository.display
    present = RUNTIME_PRESENT.get(key)
    if present is None:
        present = RUNTIME_PRESENT[key] = repository.exists(runtime.path("jar"))
        if not present:
            log.warning(
                "Note: %s does not hold the registry's JVM runtime %s, so the POMs of the models deployed now do not "
                "depend on it, and Scala and Java jobs add it to --packages themselves. Publish it once with "
                "`registry jvm publish -r REPOSITORY`: models deployed afterwards bring it along.",
                repository.display,
                runtime,
            )
    return runtime if present else None


def _claim_checked(
    repository: Repository,
    target: DeployTarget,
    card: ModelCard,
    first: int,
    check: Callable[[], None] | None,
    runtime: Coordinate | None = None,
) -> tuple[Coordinate, bytes, bool]:
    """:func:`_claim`, while ``check()`` runs on a thread (the series check, which may read the previous card:
    a round trip it no longer adds). If the check refuses the model, the claim is given back (nothing was
    written under it yet), so that no build number is retired for nothing, and the refusal raised."""
    if check is None:
        return _claim(repository, target, card, first, runtime)
    with ThreadPoolExecutor(1) as pool:
        checked = pool.submit(check)
        try:
            claimed = _claim(repository, target, card, first, runtime)
        except BaseException:
            checked.exception()  # ended either way; the claim's failure is the one to report
            raise
        refusal = checked.exception()
        if refusal is None:
            return claimed
        _give_back(repository, *claimed)
        raise refusal


def _give_back(repository: Repository, coordinate: Coordinate, pom: bytes, pom_written: bool) -> None:
    """Remove a claim nothing else was written under: the POM where it was the claim, else the empty folder.
    Where the server refuses, the build stays claimed: ``registry fsck`` notes it as abandoned, nothing worse."""
    try:
        if pom_written:
            repository.delete(coordinate.path("pom"))
        elif repository.claims_folders():
            repository.release(coordinate.directory)
    except RegistryError as exc:
        log.warning("Could not give back the claim of %s (%s); its build number stays unused.", coordinate, exc)


def _claim(
    repository: Repository, target: DeployTarget, card: ModelCard, first: int, runtime: Coordinate | None = None
) -> tuple[Coordinate, bytes, bool]:
    """Claim the first free build from ``first`` on: its directory where the repository can create one
    atomically, else its POM, created only if absent. Returns the coordinate, its POM, and whether the POM is
    written (else it is still to be uploaded, create-only, with the other files)."""
    build = first
    for _ in range(MAX_CLAIM_ATTEMPTS if target.build is None else 1):
        coordinate = target.module.at(Version(target.major, target.minor, build))
        pom = _pom(coordinate, card, runtime)
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
    metrics: Mapping[str, float] | None = None,
    description: str = "",
    labels: Sequence[str] = (),
    code: Mapping[str, Any] | Literal["git"] | None = None,
    prepare: Callable[[Path, Coordinate], None] | None = None,
    allow_change: bool = False,
    sign: str | bool | None = None,
    attachments: Sequence[Attachment] = (),
    attach: Callable[[ModelCard], tuple[ModelCard, Sequence[Attachment]]] | None = None,
) -> Coordinate:
    """Deploy the model saved in ``model_dir`` as a new release.

    :param model_dir: a directory a model was saved to (for Spark: ``model.write().save(dir)``).
    :param target: ``GROUP:ARTIFACT:MAJOR.MINOR`` to be assigned the next build, or an exact, new
        ``GROUP:ARTIFACT:MAJOR.MINOR.BUILD``.
    :param repository: an open repository, or a name/URL/path; ``None`` uses the configured default.
    :param card: what to record about the model; if omitted, a card is made from ``metrics``, ``description``,
        ``labels`` and ``code``, which cannot be combined with a ``card`` (:class:`InvalidInput`: they go in it).
    :param metrics: numbers to record (``{"areaUnderROC": 0.91}``); also written into the POM.
    :param description: free text for the card and the POM.
    :param labels: tags to record, e.g. ``["prod-candidate"]``.
    :param code: the code lineage to record: ``"git"`` reads the commit of the working directory (as the CLI
        and :func:`registry.spark.deploy` do), a mapping ``{"commit", "remote", "dirty"}`` is recorded as given,
        ``None`` (default) records none.
    :param allow_change: deploy even if the model's stages, features or params differ from the newest build of
        the series (normally refused with :class:`ModelChanged` and a suggested next minor or major version).
    :param prepare: called with ``model_dir`` and the claimed coordinate once the build is claimed, before the
        card records the SHA-256 of every file (``files``), to stamp the coordinate into the saved model (the
        Spark watermark); it may modify ``model_dir`` in place. Without it, a saved Spark pipeline
        (``model.write().save(dir)``, read without Spark: :mod:`registry.savedmodel`) has its watermark stamped in
        the jar, never in ``model_dir``, and, without a ``card``, its stages and params recorded as
        :func:`registry.spark.deploy` records them.
    :param sign: sign the jar, the POM and the card (detached ``.asc`` files, see :mod:`registry.signing`) with
        this gpg key; ``True``: the repository's ``sign_with`` key, else gpg's default key; ``False``: do not sign.
        Default: sign when the repository sets ``sign_with``.
    :param attachments: more files of the release (:class:`Attachment`), uploaded and signed like the card.
    :param attach: called with the card to be released (made from the keywords and the saved model) before
        anything is claimed; returns the card to release instead and more ``attachments`` (the portable twin of a
        saved pipeline, :func:`registry.spark.deploy.deploy_saved`). What it raises ends the deploy.
    :returns: the coordinate the model was released as.
    :raises VersionExists: an explicit version is already released.
    :raises InvalidInput: a metric is not a finite number, or ``card`` was given with ``metrics``, ``labels``,
        ``description`` or ``code``.
    :raises SignatureError: the key cannot sign (checked before a build is claimed).
    :raises InvalidModel: ``model_dir`` is not a non-empty directory of regular files.
    :raises RepositoryUnavailable, AuthenticationFailed, IntegrityError: the repository cannot be used; in
        particular an unreadable ``maven-metadata.xml`` aborts the deploy rather than restarting at build 0.

    The build is claimed first (its folder created atomically, or its POM created only if absent); then every
    file is uploaded create-only, at once, the jar becoming visible last; the version is added to
    ``maven-metadata.xml`` only when all of them are in place, so a failed deploy leaves no version that
    resolves. A build number, once claimed, is never reused; but a claim refused by the series check (made while
    the previous build's card was read, before anything was written or stamped) is given back.

    The POM depends on the registry's JVM runtime when the repository holds it (asked once per repository and
    process, while the metadata is read; otherwise a note says how to publish it).
    """
    target = target if isinstance(target, DeployTarget) else DeployTarget.parse(target)
    model_dir = Path(model_dir)
    check_model_dir(model_dir)
    saved = read_saved_model(model_dir) if card is None or prepare is None else None
    draft = _draft(target, card, metrics, description, labels, code, saved)
    if draft.tools.get("spark") is None and (saved_by := saved_spark_version(model_dir)) is not None:
        draft = dataclasses.replace(draft, tools={**draft.tools, "spark": saved_by})  # the runtime contract's Spark
    if attach is not None:
        draft, more = attach(draft)
        attachments = [*attachments, *more]
    with opening(repository, settings) as opened, ThreadPoolExecutor(1) as digesting, contextlib.ExitStack() as undo:
        # The SHA-256 of the model's files (the card's ``files``) computed while the metadata is read and the build
        # claimed; not where a prepare hook may rewrite model_dir once the build is claimed.
        digested = digesting.submit(model_digests, model_dir) if prepare is None else None
        repo, active = opened.repository, opened.settings
        signer = signer_for(sign, opened)
        if signer is not None:
            signer.check()  # a key that cannot sign fails now, before a build number is spent
        cache = Cache(active.cache_dir)
        repo.prepare_writes()  # e.g. learn what the server can do while the metadata is read
        with ThreadPoolExecutor(1) as pool:  # asked while the metadata is read: no round trip added
            asking = pool.submit(_runtime_in, repo)
            metadata = read_metadata(repo, target.module)
            runtime = asking.result()
        exact = target.exact
        if exact is not None and metadata and str(exact.version) in metadata.versions:
            raise VersionExists(
                f"{exact} already exists in {repo.display}; releases are immutable. "
                f"Deploy to {target.module}:{target.major}.{target.minor} to get the next free build."
            )
        first = target.build if target.build is not None else _next_build(metadata, target)
        # The jar's upload begun on the build about to be claimed, while the claim is in flight (S3: its multipart
        # upload, invisible until completed); abandoned (aborted) unless the jar's upload takes it: another deployer
        # won that build, or the deploy failed before its jar.
        size = _size_of(model_dir) if repo.uploads_while_written else 0
        guessed = target.module.at(Version(target.major, target.minor, first)).path("jar")
        repo.begin_create(guessed, size)
        undo.callback(repo.abandon_create, guessed)
        check = None if allow_change else lambda: _check_series(repo, metadata, target, draft, cache)
        coordinate, pom, pom_written = _claim_checked(repo, target, draft, first, check, runtime)
        if prepare is not None:  # before the card, which records the SHA-256 of every file as it is released
            prepare(model_dir, coordinate)
        # Without a prepare hook, a saved Spark pipeline's watermark says the new coordinate in the jar (and so in
        # the card's digests of its files), never in model_dir.
        stamped = watermark_rewrites(model_dir, coordinate) if prepare is None and saved is not None else None
        files_sha256 = (
            with_replaced(digested.result(), model_dir, stamped) if digested else model_digests(model_dir, stamped)
        )
        final_card = draft.for_coordinate(
            str(coordinate), _previous(metadata, coordinate), signed=signer is not None, files=files_sha256
        ).to_json()
        card_path = coordinate.path("json", "model")
        card_digests = digest_bytes(final_card)
        files: list[tuple[str, Source]] = [] if pom_written else [(coordinate.path("pom"), pom)]
        files += _with_sidecars(coordinate.path("pom"), digest_bytes(pom), ())
        files += _with_sidecars(card_path, card_digests, final_card)
        attached = {coordinate.path(a.extension, a.classifier): a.content for a in attachments}
        for path, content in attached.items():
            files += _with_sidecars(path, digest_bytes(content), content)
        with tempfile.TemporaryDirectory(prefix="registry-deploy-") as scratch:
            jar = Path(scratch) / coordinate.file_name("jar")

            # Where the repository uploads a file while it is written (S3), the jar's parts travel as it is packed.
            growing = GrowingFile(jar, size) if repo.uploads_while_written else None

            def make_jar() -> tuple[Source, list[tuple[str, Source]]]:
                digests = pack(model_dir, jar, coordinate, pom, final_card, stamped, growing)
                extra = _with_sidecars(coordinate.path("jar"), digests, ())
                if signer is not None:  # in place before the jar's end, whose presence means "complete"
                    signed: dict[str, Path | bytes] = {
                        coordinate.path("pom"): pom,
                        card_path: final_card,
                        coordinate.path("jar"): jar,
                        **attached,
                    }
                    for path, signature in signer.sign(signed).items():
                        extra += _with_sidecars(signature_path(path), digest_bytes(signature), signature)
                return jar, extra

            # The small files upload while the jar is packed; the jar streams meanwhile and ends last; and while
            # its end travels, the metadata is locked and read, to be written once the jar is in place.
            _upload_and_publish(repo, coordinate, files, make_jar, growing, first=metadata is None)
        # Uploaded create-only and accepted: the next deploy's series check reads this card from the cache.
        cache.keep(coordinate, coordinate.file_name("json", "model"), "sha512", card_digests.sha512, final_card)
        cache.remember(repo.origin, coordinate, coordinate.file_name("json", "model"), "sha512", card_digests.sha512)
        emit("deploy", coordinate, repo.display, card=draft, by=draft.deployed_by)
        return coordinate


def release_jar(
    repository: Repository, coordinate: Coordinate, pom: bytes, jar: bytes, signer: Signer | None = None
) -> None:
    """Release a ready-made ``jar`` and its ``pom`` as ``coordinate`` (the JVM runtime) the way a model's files
    are released: every file created only if absent (a release already there is :class:`VersionExists`), with its
    checksums and, with a ``signer``, its signature; the jar last, then the version listed in the metadata."""
    files: list[tuple[str, Source]] = [(coordinate.path("pom"), pom)]
    files += _with_sidecars(coordinate.path("pom"), digest_bytes(pom), ())

    def make_jar() -> tuple[Source, list[tuple[str, Source]]]:
        extra = _with_sidecars(coordinate.path("jar"), digest_bytes(jar), ())
        if signer is not None:
            signed: dict[str, Path | bytes] = {coordinate.path("pom"): pom, coordinate.path("jar"): jar}
            for path, signature in signer.sign(signed).items():
                extra += _with_sidecars(signature_path(path), digest_bytes(signature), signature)
        return jar, extra

    try:
        _upload_and_publish(repository, coordinate, files, make_jar)
    except PathExists:
        raise VersionExists(f"{coordinate} already exists in {repository.display}; releases are immutable.") from None


def _upload_and_publish(
    repository: Repository,
    coordinate: Coordinate,
    files: list[tuple[str, Source]],
    make_jar: Callable[[], tuple[Source, list[tuple[str, Source]]]],
    growing: GrowingFile | None = None,
    *,
    first: bool = False,
) -> None:
    """:func:`upload_version`, then :func:`publish`, which starts (on a thread) as soon as every file but the end
    of the jar is in place, and writes the metadata only once the upload has ended well. ``first``: the artifact
    had no metadata (its empty promotion log is created then)."""
    uploaded: Future[None] = Future()
    others_done = threading.Event()

    def publish_after_upload() -> None:
        others_done.wait()
        if uploaded.done() and uploaded.exception() is not None:
            return  # failed: the caller raises it
        publish(repository, coordinate.module, [coordinate.version], ready=uploaded.result, first=first)

    with ThreadPoolExecutor(1) as pool:
        publishing = pool.submit(publish_after_upload)
        try:
            upload_version(
                repository, files, coordinate.path("jar"), make_jar, when_ready=others_done.set, growing=growing
            )
        except BaseException as exc:
            uploaded.set_exception(exc)
            others_done.set()
            publishing.exception()  # the publisher gave up without writing anything
            raise
        uploaded.set_result(None)
        others_done.set()
        publishing.result()


def _size_of(model_dir: Path) -> int:
    """The bytes of the model's files: about the size of its jar (less where entries are deflated)."""
    return sum(path.stat().st_size for path in model_dir.rglob("*") if path.is_file())


def _with_sidecars(path: str, digests: Digests, content: Source | tuple[()]) -> list[tuple[str, Source]]:
    """The checksum files of ``path`` and, unless ``content`` is ``()``, the file itself."""
    files: list[tuple[str, Source]] = [(f"{path}.{extension}", digest) for extension, digest in digests.sidecars()]
    return files if isinstance(content, tuple) else [*files, (path, content)]
