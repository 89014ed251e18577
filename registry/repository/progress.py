"""Progress of transfers, reported as events: the storage layer says what moves, an edge (the CLI) draws it.

A reporter is called with a label (``PUT churn-1.0.3.jar``) and the total size in bytes (``None`` if unknown) and
returns a context manager that yields a function to call with the size of each block moved. By default nothing
is drawn; the CLI installs a terminal progress bar with :func:`set_reporter`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

__all__ = ["Reporter", "report", "set_reporter", "silent"]

Reporter = Callable[[str, "int | None"], AbstractContextManager[Callable[[int], None]]]


@contextlib.contextmanager
def silent(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Report nothing."""
    yield lambda _size: None


_reporter: Reporter = silent


def set_reporter(reporter: Reporter) -> None:
    """Draw every transfer from now on with ``reporter`` (``silent`` to stop)."""
    global _reporter
    _reporter = reporter


def report(label: str, total: int | None) -> AbstractContextManager[Callable[[int], None]]:
    """The current reporter's context for one transfer."""
    return _reporter(label, total)
