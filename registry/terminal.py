"""How cards, diffs and search results look in a terminal: rich tables for ``show``, ``diff`` and ``search``.

Cards hold user text, so every value goes into a table as :class:`rich.text.Text`, never as markup: a description
of ``[bold red]`` is printed as written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from registry.cards import VersionCard
from registry.diff import SECTIONS, CardDiff
from registry.modelcard import stages
from registry.monitor_view import profile_view

__all__ = ["card_view", "diff_view", "search_view"]

_MAX_VALUE = 160
_TITLES = {
    "metrics": "Metrics",
    "params": "Params",
    "stages": "Stages",
    "input_schema": "Input schema",
    "training_data": "Training data",
    "code": "Code",
    "labels": "Labels",
}


def _text(value: Any) -> Text:
    """A value as plain text: strings as written, numbers in full, other JSON compact; long values cut."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, str):
        shown = value
    elif isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, (int, float)):
        shown = repr(value)
    else:
        shown = json.dumps(value, separators=(",", ":"), default=str)
    return Text(shown if len(shown) <= _MAX_VALUE else shown[: _MAX_VALUE - 1] + "…")


def _who(who: Any) -> str:
    who = who if isinstance(who, Mapping) else {}
    return f"{who.get('user', '?')}@{who.get('host', '?')}"


def _table(title: str | Text | None, *columns: str) -> Table:
    """A table in the house style: a bold title on the left, a rule under the header, no frame."""
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
        table.add_column(column, overflow="fold")
    return table


def _pairs(title: str | None, rows: Iterable[tuple[str, Any]]) -> Table:
    table = _table(title)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else _text(value))
    return table


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def card_view(record: VersionCard) -> RenderableType:
    """The card of one version: summary, metrics, training data, params per stage, schema, promotion."""
    card = record.card
    code, data = _mapping(card.code), _mapping(card.training_data)
    tools = _mapping(card.tools)
    commit = None
    if code:
        commit = f"{code.get('commit')}{' (dirty)' if code.get('dirty') else ''}"
        if code.get("remote"):
            commit += f" from {code.get('remote')}"
    parts: list[RenderableType] = [
        Text(str(record.coordinate), style="bold"),
        _pairs(
            None,
            [
                ("description", card.description or None),
                ("deployed", f"{card.created} by {_who(card.deployed_by)}"),
                ("previous build", card.previous),
                ("labels", ", ".join(card.labels) or None),
                ("code", commit),
                ("tools", ", ".join(f"{k} {v}" for k, v in sorted(tools.items()) if v) or None),
            ],
        ),
    ]
    metrics = _mapping(card.metrics)
    if metrics:
        parts.append(_pairs("Metrics", sorted(metrics.items())))
    if data:
        parts.append(
            _pairs("Training data", [(k, data.get(k)) for k in ("fingerprint", "rows", "source", "table_version")])
        )
    for stage in stages(card):
        title = Text.assemble(f"Stage {stage.label}", (f"  {stage.uid}" if stage.uid else "", "dim"))
        table = _table(title, "param", "value", "")
        for name, value in sorted(stage.params.items()):
            table.add_row(Text(name), _text(value), "default" if name in stage.defaults else "")
        parts.append(table)
    profile = profile_view(card.profile if isinstance(card.profile, Mapping) else None)
    if profile is not None:
        parts.append(profile)
    schema = card.input_schema if isinstance(card.input_schema, list) else []
    if schema:
        table = _table("Input schema", "column", "type", "nullable")
        for entry in (e for e in schema if isinstance(e, Mapping)):
            table.add_row(_text(entry.get("name")), _text(entry.get("type")), _text(entry.get("nullable")))
        parts.append(table)
    parts.append(_promotion(record))
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
        ("promoted", f"{promotion.promoted_at} by {_who(promotion.promoted_by)}"),
        ("from", promotion.source),
        ("to", promotion.target),
    ]
    for gate in promotion.gates:
        verdict = Text("passed", style="green") if gate.passed else Text("FAILED", style="red")
        rows.append(("gate", Text.assemble(f"{gate.expression} (actual {_text(gate.actual)}) ", verdict)))
    for earlier in promotion.history[1:]:
        rows.append(
            ("earlier", f"{earlier.promoted_at} by {_who(earlier.promoted_by)}: {earlier.source} -> {earlier.target}")
        )
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
            table.add_column("delta", justify="right")
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
        return Text(", ".join(map(str, value))) if value else _text(None)
    return _text(value)


def _delta(delta: float | None) -> Text:
    if delta is None:
        return Text("-", style="dim")
    if delta == 0:
        return Text("0", style="dim")
    return Text(f"{delta:+.6g}", style="green" if delta > 0 else "red")


def search_view(records: Sequence[VersionCard]) -> RenderableType:
    """One row per version: coordinate, when, who, labels, metrics, training data fingerprint."""
    table = _table(None, "version", "deployed", "by", "labels", "metrics", "data")
    for record in records:
        card = record.card
        metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in _metrics(card.metrics))
        fingerprint = _mapping(card.training_data).get("fingerprint")
        table.add_row(
            Text(str(record.coordinate)),
            Text(card.created),
            Text(_who(card.deployed_by)),
            Text(", ".join(card.labels)),
            Text(metrics),
            _text(fingerprint),
        )
    return table


def _metrics(metrics: Any) -> list[tuple[str, Any]]:
    return sorted(_mapping(metrics).items())
