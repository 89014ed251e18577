"""What an artifact page of the HTML catalog shows of one version (:class:`VersionSummary`), and its ``<section>``.

An artifact page repeats one section per version, a thousand for a long-lived model: written here in plain Python
rather than by the template, it costs a fraction of the CPU (Jinja2 spends most of a page's time in that loop,
and the catalog's start compiles less template). ``registry/templates/catalog_artifact.html.j2`` draws the rest of
the page around these sections. Every value is escaped exactly as the templates' autoescape does
(:func:`markupsafe.escape`), so a card's text never becomes markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry import formatting

if TYPE_CHECKING:  # for the annotations only: a card without a profile imports no profile view
    from registry.monitor_view import ProfileRow
    from registry.promotion import PromotionRecord

__all__ = ["VersionSummary", "escape", "version_section"]

_NOT_PROMOTED = "not promoted into this repository"


@dataclass(frozen=True)
class VersionSummary:
    """What an artifact page shows of one version, every value already text."""

    version: str
    created: str
    deployed_by: str
    description: str
    labels: tuple[str, ...]
    metrics: tuple[tuple[str, str], ...]
    code: str | None
    training_data: tuple[tuple[str, str], ...]
    stages: tuple[tuple[str, str, tuple[tuple[str, str, bool], ...]], ...]  # label, uid, (param, value, default)
    previous: str | None
    promotion: PromotionRecord | None
    signature: str = ""  # who signed it, "unsigned", or why its signature is refused
    profile: tuple[ProfileRow, ...] = ()
    drift: str | None = None
    yanked: str | None = None  # "when by whom: why", for a version yanked in the repository


def escape(text: str) -> str:
    """``text`` with ``& < > ' "`` as HTML entities, the same five and the same entities as
    :func:`markupsafe.escape` (Jinja2's autoescape)."""
    return (
        text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;").replace("'", "&#39;").replace('"', "&#34;")
    )


def version_section(v: VersionSummary, no_stages: str) -> str:
    """The ``<section>`` of one version, ending in a newline; ``no_stages`` is shown for a card without stages."""
    e = escape
    version = e(v.version)
    out = [
        f'<section class="version" id="v{version}">\n'
        f'  <h3><span class="mono">{version}</span><span class="when">{e(v.created)} by {e(v.deployed_by)}</span>'
    ]
    if v.yanked:
        out.append(f' <span class="yanked">yanked {e(v.yanked)}</span>')
    out.append("</h3>\n")
    if v.description:
        out.append(f'<p class="description">{e(v.description)}</p>')  # no newline: as the template writes it
    out.append('  <dl class="card">\n')
    if v.labels:
        shown = "".join(f'<span class="label">{e(label)}</span>' for label in v.labels)
        out.append(f"    <dt>Labels</dt><dd>{shown}</dd>\n")
    if v.metrics:
        shown = ", ".join(
            f'<span class="metric">{e(name)} = <strong>{e(value)}</strong></span>' for name, value in v.metrics
        )
        out.append(f"    <dt>Metrics</dt><dd>{shown}</dd>\n")
    out.append(f'    <dt>Code</dt><dd class="mono">{e(v.code or "-")}</dd>\n')
    if v.training_data:
        shown = "; ".join(f'{e(key)} <span class="mono">{e(value)}</span>' for key, value in v.training_data)
        out.append(f"    <dt>Training data</dt><dd>{shown}</dd>\n")
    if v.stages:
        out.append(f"    <dt>Stages</dt><dd>{' &rarr; '.join(e(label) for label, _, _ in v.stages)}</dd>\n")
    else:
        out.append(f'    <dt>Stages</dt><dd class="muted stages-none">{e(no_stages)}</dd>\n')
    if v.drift:
        out.append(f'    <dt>Drift</dt><dd><span class="drift-{e(v.drift.split(" ")[0])}">{e(v.drift)}</span></dd>\n')
    out.append(f'    <dt>Previous build</dt><dd class="mono">{e(v.previous) if v.previous else "-"}</dd>\n')
    if v.signature:
        out.append(f"    <dt>Signature</dt><dd>{e(v.signature)}</dd>\n")
    out.append("    <dt>Promotion</dt>\n    <dd>\n")
    out.append(
        _promotion(v.promotion) if v.promotion else '<span class="muted">not promoted into this repository</span>'
    )
    out.append("    </dd>\n  </dl>\n")
    if v.profile:
        out.append(_profile(v.profile, bool(v.drift)))
    for label, uid, params in v.stages:
        if params:
            out.append(_params(label, uid, params))
    out.append("</section>\n")
    return "".join(out)


def _promotion(promotion: PromotionRecord) -> str:
    e = escape
    out = [
        f"      {e(formatting.time(promotion.promoted_at))} by {e(formatting.who(promotion.promoted_by))}, "
        f"{e(str(promotion.source))} &rarr; {e(str(promotion.target))}\n"
    ]
    for gate in promotion.gates:
        outcome = "passed" if gate.passed else "failed"
        shown = f"{e(formatting.verdict(gate.passed))}</span> {e(formatting.gate(gate))}"
        out.append(f'      <br><span class="{outcome}">{shown}\n')
    return "".join(out)


def _profile(rows: tuple[ProfileRow, ...], drift: bool) -> str:
    e = escape
    out = [
        f'  <details class="profile"{" open" if drift else ""}>\n'
        f"    <summary>Training profile ({len(rows)} columns){' and drift' if drift else ''}</summary>\n"
        "    <table>\n"
        "      <thead><tr><th>Column</th><th>Role</th><th>Type</th><th>Nulls</th><th>Training distribution</th>\n"
        f"{'<th>PSI</th><th>Nulls now</th><th>Outside range</th><th>Verdict</th>' if drift else ''}</tr></thead>\n"
        "      <tbody>\n"
    ]
    for row in rows:
        out.append(
            f'        <tr><td class="mono">{e(row.name)}</td><td>{e(row.role)}</td><td class="mono">{e(row.type)}</td>'
            f"<td>{e(row.nulls)}</td><td>{e(row.distribution)}</td>\n"
        )
        if drift:
            out.append(
                f"<td>{e(row.psi or '-')}</td><td>{e(row.nulls_now or '-')}</td><td>{e(row.outside or '-')}</td>"
                f'<td class="drift-{e(row.verdict or "none")}">{e(row.verdict or "-")}</td>'
            )
        out.append("</tr>\n")
    out.append("      </tbody>\n    </table>\n  </details>\n")
    return "".join(out)


def _params(label: str, uid: str, params: tuple[tuple[str, str, bool], ...]) -> str:
    e = escape
    shown_uid = f' <span class="muted mono">{e(uid)}</span>' if uid else ""
    out = [
        f"  <details>\n    <summary>Params of {e(label)}{shown_uid}</summary>\n    <table>\n"
        "      <thead><tr><th>Param</th><th>Value</th><th></th></tr></thead>\n      <tbody>\n"
    ]
    for name, value, default in params:
        out.append(
            f'        <tr><td class="mono">{e(name)}</td><td class="mono">{e(value)}</td>'
            f'<td class="muted">{"default" if default else ""}</td></tr>\n'
        )
    out.append("      </tbody>\n    </table>\n  </details>\n")
    return "".join(out)
