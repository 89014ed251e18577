"""How training profiles and drift reports look: in a terminal (``registry show``, ``registry monitor``) and as
the rows of the HTML catalog's profile tables.

Values from cards are user data: they go into tables as :class:`rich.text.Text`, never as markup. rich is
imported by the terminal views only: the catalog (imported with ``registry``) uses the plain rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry.drift import DriftReport, Role, Verdict, VersionDrift
from registry.exceptions import InvalidInput
from registry.profile import ColumnProfile, Profile

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

__all__ = ["ProfileRow", "drift_line", "profile_rows", "profile_view", "report_view"]

_STYLES: dict[Verdict, str] = {"stable": "green", "drifting": "yellow", "drifted": "bold red"}


def _table(title: str, *columns: str) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(
        title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    for column in columns:
        # Only the last column (a distribution, a verdict) may wrap: names and figures stay on one line.
        table.add_column(column, overflow="fold", no_wrap=column != columns[-1])
    return table


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def profile_view(raw: Mapping[str, Any] | None) -> RenderableType | None:
    """The card's training profile as a table (one row per column), or ``None`` when the card has none."""
    from rich.text import Text

    if not raw:
        return None
    try:
        profile = Profile.from_dict(raw)
    except InvalidInput as exc:
        return Text(f"Training profile: unreadable ({exc})", style="red")
    table = _table(f"Training profile ({profile.rows:,} rows)", "column", "role", "type", "nulls", "distribution")
    roles = [("feature", c) for c in profile.features]
    roles += [(role, c) for role, c in (("prediction", profile.prediction), ("probability", profile.probability)) if c]
    for role, column in roles:
        table.add_row(Text(column.name), role, Text(column.type), _rate(column.null_rate), Text(column.summary()))
    return table


def report_view(report: DriftReport) -> RenderableType:
    """One table per version: each column's PSI, null rates, share outside the training range, verdict."""
    from rich.console import Group
    from rich.text import Text

    parts: list[RenderableType] = []
    for version in report.versions:
        title = f"{version.version}: {version.rows:,} rows, {version.verdict}"
        table = _table(title, "column", "role", "PSI", "nulls trained", "nulls now", "outside", "verdict")
        for c in version.columns:
            table.add_row(
                Text(c.name),
                c.role,
                "-" if c.psi is None else f"{c.psi:.4f}",
                _rate(c.null_rate_training),
                _rate(c.null_rate_scored),
                _rate(c.outside_range),
                Text(c.verdict, style=_STYLES[c.verdict]),
            )
        parts += [table, *(Text(f"note: {n}", style="dim") for n in version.notes), Text("")]
    t = report.thresholds
    parts.append(
        Text(
            f"Overall: {report.verdict}. Thresholds: PSI {t.psi_drifting:g} drifting, {t.psi_drifted:g} drifted; "
            f"null rate change {t.null_drifting:g} / {t.null_drifted:g}.",
            style=_STYLES[report.verdict],
        )
    )
    return Group(*parts)


@dataclass(frozen=True)
class ProfileRow:
    """One column of a version's training profile as the HTML catalog shows it, with its drift when a monitor
    report covers the version (every value already text; ``verdict`` empty without a report)."""

    name: str
    role: str
    type: str
    nulls: str
    distribution: str
    psi: str = ""
    nulls_now: str = ""
    outside: str = ""
    verdict: str = ""


def profile_rows(raw: Mapping[str, Any] | None, drift: VersionDrift | None = None) -> tuple[ProfileRow, ...]:
    """The rows of the catalog's profile table for one version; none when its card has no (readable) profile."""
    if not raw:
        return ()
    try:
        profile = Profile.from_dict(raw)
    except InvalidInput:
        return ()
    extra: tuple[tuple[Role, ColumnProfile | None], ...] = (
        ("prediction", profile.prediction),
        ("probability", profile.probability),
    )
    roles: list[tuple[Role, ColumnProfile]] = [("feature", c) for c in profile.features]
    roles += [(role, c) for role, c in extra if c is not None]
    rows = []
    for role, column in roles:
        compared = drift.column(role, column.name) if drift is not None else None
        measured = {}
        if compared is not None:
            measured = {
                "psi": "-" if compared.psi is None else f"{compared.psi:.4f}",
                "nulls_now": _rate(compared.null_rate_scored),
                "outside": _rate(compared.outside_range),
                "verdict": compared.verdict,
            }
        rows.append(ProfileRow(column.name, role, column.type, _rate(column.null_rate), column.summary(), **measured))
    return tuple(rows)


def drift_line(drift: VersionDrift | None) -> str | None:
    """``drifted on 2,000 scored rows: x, prediction`` for the catalog, or ``None`` without a report."""
    if drift is None:
        return None
    moved = [c.name for c in drift.columns if c.verdict != "stable"]
    return f"{drift.verdict} on {drift.rows:,} scored rows" + (f": {', '.join(moved)}" if moved else "")
