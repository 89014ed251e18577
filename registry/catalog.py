"""A static HTML catalog of a repository's models: ``index.html`` and one page per artifact.

Each artifact page lists every version, newest first, with its card (who deployed it when, from which code and
data, labels, metrics, params per stage), its promotion into the repository and the promotion history, and one
small SVG line chart per metric across builds. The pages are plain HTML with inline CSS and SVG: no JavaScript,
and a Content-Security-Policy that would refuse any, so they open from ``file://`` or any static web server.

Cards hold user text, so the templates (``registry/templates/catalog*.html.j2``) autoescape everything. Values and
people are formatted by :mod:`registry.formatting`, as in the terminal; the templates have its functions as filters
(``who``, ``time``, ``value``, ``gate``, ``verdict``, ``clip``). :mod:`registry.catalog_charts` computes the chart
geometry as numbers and the templates draw it. The one section per version of an artifact page is written by
:mod:`registry.catalog_html` (escaped the same way; ``tests/test_catalog_html.py`` holds it to the template it
replaced), the rest by the templates.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import formatting, rendering
from registry.catalog_charts import MetricChart, metric_chart
from registry.catalog_html import VersionSummary, version_section
from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidCoordinate, InvalidInput
from registry.modelcard import stages
from registry.repository.base import Repository
from registry.settings import Settings
from registry.store import ArtifactHistory, Cache, VersionCard, read_history, read_listings_ahead, read_yanks
from registry.trust import (
    UNREAD,
    card_signature_to_read,
    check_card,
    describe_signature,
    opening,
    recorded_unsigned,
)
from registry.versions import Version

if TYPE_CHECKING:
    import jinja2

    from registry.drift import DriftReport, VersionDrift
    from registry.monitor_view import ProfileRow
    from registry.promotion import PromotionRecord
    from registry.trust import Opened

__all__ = [
    "MAX_DEPTH",
    "ArtifactPage",
    "MetricChart",
    "build_catalog",
    "discover_artifacts",
    "metric_chart",
    "render_catalog",
]

#: How many card signatures gpg checks at once (a process each).
SIGNATURE_CHECKS = 16

#: How deep below the root ``discover_artifacts`` looks for ``maven-metadata.xml`` (a group of 7 segments).
MAX_DEPTH = 8
#: The file that marks a directory as a catalog this module wrote, and so safe to replace.
MARKER = ".registry-catalog"


@dataclass(frozen=True)
class ArtifactPage:
    """One artifact's page: file name, versions newest first, charts, and promotions newest first."""

    module: str
    file_name: str
    versions: tuple[VersionSummary, ...]
    without_card: tuple[str, ...]
    charts: tuple[MetricChart, ...]
    promotions: tuple[tuple[str, PromotionRecord], ...]  # (version, hop), every hop of every version, newest first

    @property
    def latest(self) -> VersionSummary | None:
        """The version ``latest.release`` picks: the newest one not yanked."""
        return next((v for v in self.versions if v.yanked is None), None)


def _numbers(metrics: Any) -> dict[str, float]:
    return {
        str(k): float(v)
        for k, v in formatting.mapping(metrics).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


def _summary(record: VersionCard, signature: str = "", monitored: DriftReport | None = None) -> VersionSummary:
    card = record.card
    drift = monitored.version(str(record.coordinate)) if monitored is not None else None
    return VersionSummary(
        version=str(record.coordinate.version),
        created=formatting.time(card.created),
        deployed_by=formatting.who(card.deployed_by),
        description=str(card.description or ""),
        labels=tuple(str(label) for label in card.labels),
        metrics=tuple(formatting.metrics(card.metrics)),
        code=formatting.commit(card.code),
        training_data=tuple(formatting.training_data(card.training_data)),
        stages=tuple(
            (stage.label, stage.uid or "", tuple(formatting.params(stage, card.coordinate))) for stage in stages(card)
        ),
        previous=card.previous,
        promotion=record.promotion,
        signature=signature,
        profile=_profile_rows(card.profile, drift),
        drift=_drift_line(drift),
        yanked=_yanked(record),
    )


def _profile_rows(raw: Mapping[str, Any] | None, drift: VersionDrift | None) -> tuple[ProfileRow, ...]:
    if not raw:
        return ()  # most cards: the profile and drift views are not imported
    from registry.monitor_view import profile_rows

    return profile_rows(raw, drift)


def _drift_line(drift: VersionDrift | None) -> str | None:
    if drift is None:
        return None
    from registry.monitor_view import drift_line

    return drift_line(drift)


def _yanked(record: VersionCard) -> str | None:
    yank = record.yanked
    return None if yank is None else f"{formatting.when_by(yank.at, yank.by)}: {yank.reason}"


def _page_name(module: Module) -> str:
    # Artifacts never contain dots, so group.artifact names every module uniquely.
    return f"{module.group}.{module.artifact}.html"


def _artifact_page(
    history: ArtifactHistory, signatures: Mapping[str, str], monitored: DriftReport | None = None
) -> ArtifactPage:
    # (version, its numeric metrics), oldest first: each card's metrics read once, not once per chart
    oldest_first = [(str(r.coordinate.version), _numbers(r.card.metrics)) for r in reversed(history.cards)]
    names = sorted({name for _, numbers in oldest_first for name in numbers})
    charts = []
    for name in names:
        values = [(version, numbers[name]) for version, numbers in oldest_first if name in numbers]
        missing = [version for version, numbers in oldest_first if name not in numbers]
        charts.append(metric_chart(name, values, missing))
    promotions = sorted(
        (
            (str(r.coordinate.version), hop)
            for r in history.cards
            if r.promotion is not None
            for hop in r.promotion.history
        ),
        key=lambda item: item[1].promoted_at,
        reverse=True,
    )
    return ArtifactPage(
        module=str(history.module),
        file_name=_page_name(history.module),
        versions=tuple(
            _summary(record, signatures.get(str(record.coordinate), ""), monitored) for record in history.cards
        ),
        without_card=tuple(str(v) for v in sorted(history.without_card, reverse=True)),
        charts=tuple(charts),
        promotions=tuple(promotions),
    )


#: The templates a catalog renders (the two pages, and the base both extend).
_TEMPLATES = ("catalog_index.html.j2", "catalog_artifact.html.j2", "catalog_base.html.j2")


def _templates_ahead(compiled: Path | None) -> Callable[[], None]:
    """Import Jinja2 and load the catalog's templates (compiled, where the cache has no copy yet) on a thread,
    while the command waits for the repository's answers; returns what waits for that thread. A failure there is
    left for the rendering to meet again, and raise."""

    def load() -> None:
        with contextlib.suppress(Exception):
            environment = _environment(compiled)
            for name in _TEMPLATES:
                environment.get_template(name)

    thread = threading.Thread(target=load, name="catalog-templates", daemon=True)
    thread.start()
    return thread.join


@lru_cache(maxsize=2)
def _environment(compiled: Path | None) -> jinja2.Environment:
    environment = rendering.environment(compiled=compiled, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(
        clip=formatting.clip,
        gate=formatting.gate,
        time=formatting.time,
        value=formatting.value,
        verdict=formatting.verdict,
        who=formatting.who,
    )
    return environment


def render_catalog(
    histories: Iterable[ArtifactHistory],
    *,
    source: str,
    skipped: Sequence[tuple[str, str]] = (),
    now: dt.datetime | None = None,
    signatures: Mapping[str, str] | None = None,
    monitored: DriftReport | None = None,
    compiled: Path | None = None,
) -> dict[str, str]:
    """The catalog's pages: ``{file name: HTML}``, ``index.html`` included.

    :param source: how the repository is named on the pages (a masked URL or path).
    :param skipped: ``(folder, reason)`` of discovered folders that are not readable artifacts.
    :param signatures: ``{coordinate: who signed it}`` (see :func:`registry.trust.describe_signature`).
    :param monitored: a monitor report (``registry monitor --json``): the drift of the versions it covers.
    :param compiled: where compiled templates are kept for the next run (see :func:`registry.rendering.environment`).
    """
    stamp = formatting.time(now or dt.datetime.now(dt.timezone.utc))
    pages = sorted((_artifact_page(h, signatures or {}, monitored) for h in histories), key=lambda page: page.module)
    environment = _environment(compiled)
    common = {"source": source, "generated": stamp}
    rendered = {
        "index.html": environment.get_template("catalog_index.html.j2").render(pages=pages, skipped=skipped, **common)
    }
    template = environment.get_template("catalog_artifact.html.j2")
    for page in pages:
        sections = "".join(version_section(version, formatting.NO_STAGES) for version in page.versions)
        rendered[page.file_name] = template.render(page=page, sections=sections, **common)
    return rendered


def discover_artifacts(
    repository: Repository, max_depth: int = MAX_DEPTH
) -> tuple[list[Module], list[tuple[str, str]]]:
    """Every folder holding a ``maven-metadata.xml`` that names a valid ``GROUP:ARTIFACT``, walking
    ``repository.list()`` at most ``max_depth`` folders deep; returns ``(modules, [(folder, reason), ...] skipped)``.
    """
    found: list[Module] = []
    skipped: list[tuple[str, str]] = []

    def walk(folder: str, depth: int) -> None:
        names = repository.list(folder)
        if folder and "maven-metadata.xml" in names:
            *group, artifact = folder.strip("/").split("/")
            try:
                found.append(Module.parse(f"{'.'.join(group)}:{artifact}"))
            except InvalidCoordinate:
                skipped.append((folder, "not a GROUP:ARTIFACT this registry can name"))
            return  # below an artifact are its versions, never other artifacts
        if depth < max_depth:
            for name in names:
                if name.endswith("/"):
                    walk(f"{folder}{name}", depth + 1)

    walk("", 0)
    return sorted(found), skipped


def _write_site(out: Path, pages: Mapping[str, str]) -> None:
    """Write every page into a new directory and swap it in for ``out``, which must be absent, empty, or a
    catalog written before."""
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"Cannot write the catalog to {out}: it is a file. Choose a directory.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise InvalidInput(
            f"Cannot write the catalog to {out}: it is a non-empty directory that holds no catalog, and it would "
            "be replaced. Choose a new or empty directory."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, html in pages.items():
            (staging / name).write_text(html, encoding="utf-8")
        (staging / MARKER).write_text("Written by 'registry catalog'; replaced as a whole on the next run.\n")
        staging.chmod(0o755)
        if out.is_dir():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.rename(out, retired / out.name)
            try:
                os.rename(staging, out)
            except OSError:
                os.rename(retired / out.name, out)  # put the previous catalog back
                raise
            finally:
                shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _with_yanked(history: ArtifactHistory, repository: Repository, cache: Cache) -> ArtifactHistory:
    """``history`` with the versions yanked in ``repository`` (not listed, so not in it), each marked."""
    yanked = read_yanks(repository, history.module).yanked()
    listed = {str(r.coordinate.version) for r in history.cards} | {str(v) for v in history.without_card}
    versions = [v for v in map(Version.try_parse, yanked) if v is not None and str(v) not in listed]
    if not versions:
        return history
    extra = read_history(history.module, repository, cache=cache, promotions=True, versions=versions)
    marked = [replace(r, yanked=yanked[str(r.coordinate.version)]) for r in extra.cards]
    cards = sorted([*history.cards, *marked], key=lambda r: r.coordinate.version, reverse=True)
    return replace(history, cards=tuple(cards))


def _card_signatures(
    cards: Sequence[VersionCard], opened: Opened, cache: Cache, keys: str
) -> dict[Coordinate, bytes | None]:
    """The ``.asc`` of the cards whose signatures will be checked, read at once (``None``: there is none, or the
    deploy recorded that it signed nothing: :func:`~registry.trust.recorded_unsigned`)."""
    known: dict[Coordinate, bytes | None] = {}
    reads: dict[Coordinate, Callable[[], bytes | None]] = {}
    repo, policy = opened.repository, opened.policy
    for record in cards:
        if recorded_unsigned(record.card, policy):
            known[record.coordinate] = None
        elif (read := card_signature_to_read(opened, record.coordinate, cache, keys)) is not None:
            reads[record.coordinate] = read
    if reads:
        known.update(zip(reads, repo.read_many(lambda read: read(), list(reads.values())), strict=True))
    return known


def build_catalog(
    out: Path | str,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
    artifacts: Sequence[str] = (),
    now: dt.datetime | None = None,
    monitored: DriftReport | None = None,
) -> Path:
    """Write the catalog of a repository into the directory ``out``.

    :param out: a new or empty directory, or one a previous run wrote (it is replaced as a whole, atomically
        enough that a reader sees the old catalog or the new one, with at most a moment of neither).
    :param artifacts: ``GROUP:ARTIFACT`` to include; by default every artifact found by :func:`discover_artifacts`.
    :param monitored: a monitor report whose drift is shown beside each version's training profile.
    :returns: the path of ``index.html``.
    :raises InvalidCoordinate: an artifact does not parse. :raises ArtifactNotFound: a named artifact has no
        released version. :raises InvalidInput: ``out`` is a file or a directory with other content.
        :raises IntegrityError: a card or promotion record does not match its checksum.
    """
    out = Path(out).expanduser().absolute()
    modules = [Module.parse(a) for a in dict.fromkeys(artifacts)]
    histories: list[ArtifactHistory] = []
    with opening(repository, settings) as opened:
        repo, active = opened.repository, opened.settings
        skipped: list[tuple[str, str]] = []
        if not modules:
            modules, skipped = discover_artifacts(repo)
        read_listings_ahead(repo, modules, promotions=True)  # metadata, yank and promotion logs: one round trip
        cache = Cache(active.cache_dir)
        templates_loaded = _templates_ahead(cache.root / "templates")  # while the answers travel
        for module in modules:
            try:
                history = read_history(module, repo, cache=cache, promotions=True)
            except IntegrityError as exc:
                if artifacts:
                    raise
                skipped.append((module.path + "/", str(exc)))  # e.g. a group's plugin metadata, not an artifact's
                continue
            history = _with_yanked(history, repo, cache)
            if artifacts and not history.cards and not history.without_card:
                raise ArtifactNotFound(f"{module} has no released versions in {repo.display}.")
            histories.append(history)
        keys = opened.keys_now()  # once, before every check: a keyring changed since checks again
        asc = _card_signatures([r for history in histories for r in history.cards], opened, cache, keys)

        def describe(coordinate: Coordinate) -> str:
            signature = asc.get(coordinate, UNREAD)
            return describe_signature(
                lambda: check_card(opened, coordinate, cache=cache, signature=signature, keys=keys)
            )

        cards = [r.coordinate for history in histories for r in history.cards]
        signed = [c for c in cards if asc.get(c) is not None]  # gpg checks these: at once
        with cache.notes_together():  # a check noted per card: one append per artifact, not one per card
            signatures = {str(c): describe(c) for c in cards if asc.get(c) is None}  # remembered, or unsigned
            if signed:
                with ThreadPoolExecutor(SIGNATURE_CHECKS) as pool:
                    signatures.update(zip(map(str, signed), pool.map(describe, signed), strict=True))
        templates_loaded()
        pages = render_catalog(
            histories,
            source=repo.display,
            skipped=skipped,
            now=now,
            signatures=signatures,
            monitored=monitored,
            compiled=cache.root / "templates",
        )
    try:
        _write_site(out, pages)
    except OSError as exc:
        raise InvalidInput(f"Cannot write the catalog to {out}: {exc.strerror}. Choose another directory.") from exc
    return out / "index.html"
