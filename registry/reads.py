"""The columns a fitted pipeline reads from its input: one answer for the training profile, the server's type
checks, the ONNX twin's input names and the compatibility of two builds.

A column counts when a stage reads it at transform time (``inputCol``, ``inputCols``, ``featuresCol``, or the
``input_cols`` recorded for the stage) and no earlier stage writes it (the ``output_cols`` recorded for it).
``labelCol`` and ``weightCol`` are read by an estimator at fit time only, never by the fitted model.

A ``SQLTransformer`` names its outputs in its statement. A deploy with ``training_data`` has Spark analyse it and
records the columns it reads and writes (:func:`registry.spark.card.describe_model`). Without them (no training
data, or a saved model read without Spark: ``registry deploy DIR``), the statement is parsed here
(:func:`statement_columns`, with ``sqlglot``'s Spark dialect) for the common forms: one ``SELECT`` over
``__THIS__`` (or over a sub-query of one, as the watermark's), its projections named, no join and no other table.
Where the parser cannot decide (another form), a column the statement derives and a later
stage reads counts as an input, as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FIT_TIME_PARAMS", "READ_PARAMS", "StatementColumns", "model_reads", "stage_entries", "statement_columns"]

#: The params naming the columns a fitted stage reads when it transforms.
READ_PARAMS = ("inputCol", "inputCols", "featuresCol")
#: The params naming columns only an estimator reads, at fit time.
FIT_TIME_PARAMS = ("labelCol", "weightCol")


def _names(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str) and v]


def stage_entries(model: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The stage entries of a described model, depth first (nested pipelines flattened), malformed ones skipped."""
    found: list[Mapping[str, Any]] = []

    def walk(entries: object) -> None:
        if not isinstance(entries, list):
            return
        for entry in entries:
            if isinstance(entry, Mapping):
                found.append(entry)
                walk(entry.get("stages"))

    walk(model.get("stages") if isinstance(model, Mapping) else None)
    return found


def model_reads(model: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The columns the described model (a card's ``model`` field) reads from its input, in the order first read:
    read by a stage, produced by no earlier one."""
    produced: set[str] = set()
    read: dict[str, None] = {}
    for stage in stage_entries(model):
        params = stage.get("params")
        params = params if isinstance(params, Mapping) else {}
        by_params = [c for name in READ_PARAMS for c in _names(params.get(name))]
        # Cards written by earlier releases listed labelCol among a stage's input_cols: left out here, on reading.
        fit_only = {c for name in FIT_TIME_PARAMS for c in _names(params.get(name))} - set(by_params)
        names = [*by_params, *(c for c in _names(stage.get("input_cols")) if c not in fit_only)]
        outputs = _names(stage.get("output_cols"))
        statement = params.get("statement")
        if isinstance(statement, str) and not names and not outputs:  # not analysed by Spark: parsed here
            parsed = statement_columns(statement)
            if parsed is not None:
                names, outputs = list(parsed.reads), list(parsed.writes)
        read.update((c, None) for c in names if c not in produced)
        produced.update(outputs)
    return tuple(read)


@dataclass(frozen=True)
class StatementColumns:
    """What a ``SQLTransformer`` statement reads from ``__THIS__``, and the columns it adds (or overwrites)."""

    reads: tuple[str, ...]
    writes: tuple[str, ...]


_THIS = "__this__"


def statement_columns(statement: str) -> StatementColumns | None:
    """The columns ``statement`` reads and writes, or ``None`` where the parser cannot tell (see the module).

    ``SELECT *, a * b AS c FROM __THIS__ WHERE d > 0`` reads ``a, b, d`` and writes ``c``.
    """
    import sqlglot  # on first use: the command line starts without it
    from sqlglot import exp

    try:
        parsed = sqlglot.parse(statement, read="spark")
    except Exception:  # sqlglot's errors, whatever their type: a statement it cannot read is not decided here
        return None
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Select):
        return None
    found = _select_columns(parsed[0], exp)
    return None if found is None else StatementColumns(tuple(found[0]), tuple(found[1]))


def _select_columns(select: Any, exp: Any) -> tuple[dict[str, None], dict[str, None], bool] | None:
    """For one ``SELECT``: the columns it reads from ``__THIS__``, those it adds, and whether it keeps them all
    (``*``); ``None`` where it is not a form decided here."""
    source = select.args.get("from_") or select.args.get("from")
    if source is None or select.args.get("joins") or select.args.get("with") or select.args.get("with_"):
        return None
    inner: tuple[dict[str, None], dict[str, None], bool] | None = None
    if isinstance(source.this, exp.Table):
        if source.this.name.lower() != _THIS or source.this.args.get("db"):
            return None
    elif isinstance(source.this, exp.Subquery) and isinstance(source.this.this, exp.Select):
        inner = _select_columns(source.this.this, exp)
        if inner is None:
            return None
    else:
        return None
    star, added = False, dict[str, None]()
    for projection in select.expressions:
        if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column) and projection.is_star):
            star = True
        elif isinstance(projection, exp.Alias):
            added[projection.alias] = None
        elif not isinstance(projection, exp.Column):  # an expression Spark names itself, e.g. "(a * b)"
            return None
    reads: dict[str, None] = {}
    for node, alias in _nodes(select, exp):
        if isinstance(node, (exp.Select, exp.Table, exp.Lambda)):
            return None  # a sub-query, another table, or a lambda's own variables: not decided here
        if isinstance(node, exp.Column) and not node.is_star:
            if node.name in added and node.name != alias:
                return None  # a lateral alias or an input column of the same name: only Spark can tell
            reads[node.name] = None
    if inner is not None:  # read from the sub-query: what it adds is not read from __THIS__
        inner_reads, inner_added, _ = inner
        reads = {**inner_reads, **{c: None for c in reads if c not in inner_added}}
        added = {**(inner_added if star else {}), **added}
    return reads, added, star


def _nodes(select: Any, exp: Any) -> Iterator[tuple[Any, str | None]]:
    """Every expression of ``select`` below its own clauses (its ``FROM`` left out), depth first, with the alias
    of the projection it sits in."""
    for key, value in select.args.items():
        if key in ("from", "from_") or value is None:
            continue
        for child in value if isinstance(value, list) else [value]:
            if not isinstance(child, exp.Expression):
                continue
            alias = child.alias if key == "expressions" and isinstance(child, exp.Alias) else None
            for node in child.walk(bfs=False):
                yield node, alias
