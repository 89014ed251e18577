"""``registry search`` into a pipe or a file: the lines rich prints for the results table, written without rich.

Rich takes half a second to lay out a thousand rows, and importing it (with :mod:`registry.cli.render`'s views of
cards, diffs and profiles) was a fifth of a warm search's CPU; a pipe gets the same bytes from :func:`aligned`.
A terminal, or a cell rich would change, still goes through :func:`registry.cli.render.print_search`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from registry import formatting
from registry.store import VersionCard

__all__ = ["SEARCH_COLUMNS", "UNWRAPPED_WIDTH", "aligned", "piped_search", "search_rows"]

#: The width drawn for when stdout is not a terminal: wider than any row, so that a row stays one line for
#: ``grep``/``cut`` (rich would otherwise wrap at 80 columns). Rows are never padded out to it.
UNWRAPPED_WIDTH = 10_000
#: The columns of ``registry search``: coordinate, when, who, labels, metrics, training data fingerprint (short).
SEARCH_COLUMNS = ("version", "deployed", "by", "labels", "metrics", "data")


def search_rows(records: Sequence[VersionCard]) -> list[tuple[str, ...]]:
    """One row of :data:`SEARCH_COLUMNS` per version."""
    rows: list[tuple[str, ...]] = []
    for record in records:
        card = record.card
        rows.append(
            (
                str(record.coordinate),
                formatting.time(card.created),
                formatting.who(card.deployed_by),
                formatting.value(formatting.labels(card.labels)),
                ", ".join(f"{name}={value}" for name, value in formatting.metrics(card.metrics)),
                formatting.fingerprint(formatting.mapping(card.training_data).get("fingerprint"), short=True),
            )
        )
    return rows


def piped_search(records: Sequence[VersionCard]) -> bool:
    """Print search results into a pipe or a file as rich would print them there (one line per row, aligned),
    written directly; ``False`` (nothing printed) on a terminal, and where a cell rich would change (control
    characters, tabs, line breaks) or a row too wide to stay whole needs rich's own way
    (:func:`registry.cli.render.print_search` then takes it)."""
    rows = search_rows(records)
    text = aligned(SEARCH_COLUMNS, rows)
    plain = all(cell.isprintable() for row in rows for cell in row) and text.index("\n") < UNWRAPPED_WIDTH
    if _maybe_terminal() or not plain:
        return False
    sys.stdout.write(text)
    return True


def _maybe_terminal() -> bool:
    """Whether rich would draw stdout as a terminal. Without a tty and without the variables that make rich
    draw for one anyway (``TTY_COMPATIBLE``, ``FORCE_COLOR``), it would not: then rich is not even imported."""
    if _isatty() or "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        from rich.console import Console

        return Console(soft_wrap=False).is_terminal
    return False


def _isatty() -> bool:
    try:
        return bool(sys.stdout.isatty())
    except (AttributeError, ValueError):  # no such method, or a closed file: rich says "not a terminal" too
        return False


def aligned(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows of printable text under their headings and a rule, each column as wide as its widest cell, three
    spaces apart: what :func:`~registry.cli.render.print_view` prints for such a table into a pipe."""
    width = _cell_width(columns, rows)
    widths = [max(width(cell) for cell in column) for column in zip(columns, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "   ".join(cell + " " * (size - width(cell)) for cell, size in zip(cells, widths, strict=True))

    rule = "\u2500" * (sum(widths) + 3 * (len(widths) - 1))
    return "\n".join([line(columns), rule, *map(line, rows)]) + "\n"


def _cell_width(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Callable[[str], int]:
    """How many cells a text takes on a terminal, as rich counts them: its length where every text is printable
    ASCII (one cell a character), else rich's own count (wide characters take two, control characters none)."""
    if all(_ascii(cell) for cell in columns) and all(_ascii(cell) for row in rows for cell in row):
        return len
    from rich.cells import cell_len

    return cell_len


def _ascii(text: str) -> bool:
    return text.isascii() and text.isprintable()
