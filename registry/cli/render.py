"""How cards, diffs and search results look in a terminal: rich tables for ``show``, ``diff`` and ``search``.

Values and people are formatted by :mod:`registry.formatting`, as on the HTML catalog. Cards hold user text, so every
value goes into a table as :class:`rich.text.Text`, never as markup: a description of ``[bold red]`` is printed as
written. :func:`print_view` draws for a terminal's width, and for a pipe or a file one unwrapped line per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from registry import formatting
from registry.cli.lines import SEARCH_COLUMNS, UNWRAPPED_WIDTH, aligned, piped_search, search_rows
from registry.diff import SECTIONS, CardDiff
from registry.modelcard import stages
from registry.monitor_view import profile_view
from registry.store import VersionCard

# search's rows and its lines for a pipe live in registry.cli.lines (no rich there); named here as before
__all__ = [
    "SEARCH_COLUMNS",
    "UNWRAPPED_WIDTH",
    "aligned",
    "card_view",
    "diff_view",
    "print_search",
    "print_view",
    "search_rows",
    "search_view",
]

_TITLES = {
    "metrics": "Metrics",
    "params": "Params",
    "stages": "Stages",
    "input_schema": "Input schema",
    "training_data": "Training data",
    "code": "Code",
    "labels": "Labels",
}


def print_view(renderable: RenderableType) -> None:
    """Print on stdout: fitted to a terminal, unwrapped into a pipe or a file."""
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console.width = UNWRAPPED_WIDTH
    console.print(renderable)


def _text(value: Any) -> Text:
    """A card value as plain text (:func:`registry.formatting.value`); a missing one dimmed."""
    shown = formatting.value(value)
    return Text(shown, style="dim" if shown == formatting.MISSING else "")


def _table(title: str | Text | None, *columns: str, whole: Iterable[str] = ()) -> Table:
    """A table in the house style: a bold title on the left, a rule under the header, no frame.

    A narrow terminal folds long cells; the ``whole`` columns (coordinates, times, people) never break.
    """
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD if columns else None,
        show_header=bool(columns),
        show_edge=False,
        pad_edge=False,
        min_width=len(title) if title is not None else None,  # never wrap a title over a narrow table
    )
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in whole)
    return table


def _pairs(title: str | Text | None, rows: Iterable[tuple[str, Any]]) -> Table:
    table = _table(title)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else _text(value))
    return table


def card_view(record: VersionCard) -> RenderableType:
    """The card of one version: summary, metrics, training data, params per stage, schema, promotion."""
    card = record.card
    tools = formatting.mapping(card.tools)
    runtime = formatting.runtime(card.tools)
    shown = {"spark", "scala", "java", "python"} if runtime else set()  # on the runtime line instead
    parts: list[RenderableType] = [
        Text(str(record.coordinate), style="bold"),
        _pairs(
            None,
            [
                ("description", card.description or None),
                ("deployed", formatting.when_by(card.created, card.deployed_by)),
                ("previous build", card.previous),
                ("labels", formatting.labels(card.labels)),
                ("code", formatting.commit(card.code)),
                ("tools", ", ".join(f"{k} {v}" for k, v in sorted(tools.items()) if v and k not in shown) or None),
                ("runtime", runtime),
            ],
        ),
    ]
    if formatting.mapping(card.metrics):
        parts.append(_pairs("Metrics", formatting.metrics(card.metrics)))
    if formatting.mapping(card.training_data):
        parts.append(_pairs("Training data", formatting.training_data(card.training_data)))
    if not stages(card):
        parts.append(Text.assemble(("Stages", "bold"), f"  {formatting.NO_STAGES}"))
    for stage in stages(card):
        title = Text.assemble(f"Stage {stage.label}", (f"  {stage.uid}" if stage.uid else "", "dim"))
        table = _table(title, "param", "value", "")
        for name, value, default in formatting.params(stage, card.coordinate):
            table.add_row(Text(name), Text(value), "default" if default else "")
        parts.append(table)
    profile = profile_view(card.profile if isinstance(card.profile, Mapping) else None)
    if profile is not None:
        parts.append(profile)
    schema = card.input_schema if isinstance(card.input_schema, list) else []
    if schema:
        table = _table("Input schema", "column", "type", "nullable")
        for entry in (formatting.mapping(e) for e in schema):
            table.add_row(_text(entry.get("name")), _text(entry.get("type")), _text(entry.get("nullable")))
        parts.append(table)
    parts.append(_promotion(record))
    if record.yanked is not None:
        yanked = record.yanked
        rows = [("yanked", formatting.when_by(yanked.at, yanked.by)), ("reason", yanked.reason)]
        parts.append(_pairs(Text("Yanked", style="red"), rows))
    return Group(*_spaced(parts))


def _spaced(parts: Sequence[RenderableType]) -> list[RenderableType]:
    """``parts`` with an empty line between each."""
    spaced: list[RenderableType] = []
    for part in parts:
        spaced += [part, Text("")]
    return spaced[:-1]


def _promotion(record: VersionCard) -> RenderableType:
    promotion = record.promotion
    if promotion is None:
        return _pairs("Promotion", [("promoted", "not promoted into this repository")])
    rows: list[tuple[str, Any]] = [
        ("promoted", formatting.when_by(promotion.promoted_at, promotion.promoted_by)),
        ("from", promotion.source),
        ("to", promotion.target),
    ]
    if promotion.approval:
        approval = promotion.approval
        approved = formatting.when_by(approval.get("approved_at"), approval.get("approved_by"))
        approved += f" (key {approval['key']})" if approval.get("key") else ""
        rows.append(("approved", approved + (f": {approval['comment']}" if approval.get("comment") else "")))
    for gate in promotion.gates:
        verdict = Text(formatting.verdict(gate.passed), style="green" if gate.passed else "red")
        rows.append(("gate", Text.assemble(f"{formatting.gate(gate)} ", verdict)))
    for earlier in promotion.history[1:]:
        when = formatting.when_by(earlier.promoted_at, earlier.promoted_by)
        rows.append(("earlier", f"{when}: {earlier.source} -> {earlier.target}"))
    return _pairs("Promotion", rows)


def diff_view(diff: CardDiff) -> RenderableType:
    """One table per section that has differences; metrics always, with their deltas."""
    parts: list[RenderableType] = [Text(f"{diff.a}  ->  {diff.b}", style="bold")]
    for section in SECTIONS:
        changes = diff.section(section)
        if not changes:
            continue
        first = {"params": ["stage", "param"], "metrics": ["metric"], "stages": ["stage"]}.get(section, ["name"])
        table = _table(_TITLES[section], *first, diff.a.rsplit(":", 1)[-1], diff.b.rsplit(":", 1)[-1])
        if section == "metrics":
            table.add_column("delta", justify="right", no_wrap=True)
        for change in changes:
            row: list[Text] = [Text(change.stage or "")] if section == "params" else []
            key = change.stage if section == "stages" and change.stage else change.key
            row += [Text(key), *(_shown(section, value) for value in (change.a, change.b))]
            if section == "metrics":
                row.append(_delta(change.delta))
            table.add_row(*row)
        parts.append(table)
    if diff.identical:
        parts.append(Text("No differences: same params, metrics, schema, data and code."))
    elif not any(c.changed for c in diff.changes if c.section != "metrics"):
        parts.append(Text("Only metrics differ: same params, stages, schema, data and code."))
    return Group(*_spaced(parts))


def _shown(section: str, value: Any) -> Text:
    """A diff value: stage classes without their package, labels as a list; full values are in ``--json``."""
    if section == "stages" and isinstance(value, str):
        return Text(value.rsplit(".", 1)[-1])
    if section == "labels" and isinstance(value, list):
        return _text(formatting.labels(value))
    return _text(value)


def _delta(delta: float | None) -> Text:
    shown = formatting.delta(delta)
    if not delta:
        return Text(shown, style="dim")
    return Text(shown, style="green" if delta > 0 else "red")


def search_view(records: Sequence[VersionCard]) -> RenderableType:
    """One row per version: coordinate, when, who, labels, metrics, training data fingerprint (short)."""
    table = _table(None, *SEARCH_COLUMNS, whole=("version", "deployed", "by"))
    labels = SEARCH_COLUMNS.index("labels")
    for row in search_rows(records):
        cells = [Text(cell) for cell in row]
        cells[labels] = Text(row[labels], style="dim" if row[labels] == formatting.MISSING else "")
        table.add_row(*cells)
    return table


def print_search(records: Sequence[VersionCard]) -> None:
    """Print search results: :func:`search_view` on a terminal; into a pipe or a file, the same lines rich would
    print there, written directly (:func:`~registry.cli.lines.piped_search`: rich takes half a second to lay out a
    thousand rows)."""
    if not piped_search(records):
        print_view(search_view(records))
