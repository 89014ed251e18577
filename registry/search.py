"""Search: the versions of an artifact whose cards match every given criterion, newest first.

Criteria, all of which must hold:

- a param, ``maxDepth=10``: some stage (nested pipelines included) has that param with that value. The value is
  compared with the card's type: ``10`` equals the number 10 (and 10.0), ``true`` the boolean, ``[1,2]`` the list;
  a string param compares as the text written (``handleInvalid=keep``);
- a metric condition, ``auc>0.8``: a quality gate of :mod:`registry.gates` (``NAME OP NUMBER``, OP one of
  ``> >= < <= == !=``, parsed strictly, never evaluated; ``rows`` is the training rows), as ``promote --require``
  takes them; a version without that metric does not match;
- a dataset: the training data's fingerprint starts with it, or its source contains it;
- a label: the card lists it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from registry.coordinates import Module
from registry.exceptions import InvalidInput
from registry.gates import Gate, parse_gate
from registry.modelcard import ModelCard, TrainingData
from registry.repository.base import Repository
from registry.repository.names import never_released
from registry.settings import Settings, using_repository
from registry.store import Cache, VersionCard, read_history

__all__ = ["ParamCondition", "Query", "search", "search_explained"]

_PARAM = re.compile(r"\s*([^\s=]+)\s*=(.*)\Z", re.DOTALL)
_NOT_JSON = object()


@dataclass(frozen=True)
class ParamCondition:
    """``maxDepth=10``: some stage has the param with that value (compared by type; see the module docstring)."""

    name: str
    value: str

    @classmethod
    def parse(cls, text: str) -> ParamCondition:
        """Parse ``NAME=VALUE``; :class:`InvalidInput`, quoting ``text``, without a name and ``=``."""
        match = _PARAM.match(text)
        if not match:
            raise InvalidInput(f"Invalid param condition: {text!r} (expected NAME=VALUE, e.g. maxDepth=10)")
        return cls(match[1], match[2])

    def accepts(self, value: Any) -> bool:
        """Whether a card's param ``value`` equals the value written, compared as the card's type."""
        if isinstance(value, str):
            return value == self.value
        written = _json(self.value)
        if isinstance(value, bool) or value is None:
            return written is value
        if isinstance(value, (int, float)):
            return isinstance(written, (int, float)) and not isinstance(written, bool) and written == value
        return bool(written == value)

    def matches(self, card: ModelCard) -> bool:
        """Whether any stage of ``card`` has the param with this value."""
        return any(self.name in s.params and self.accepts(s.params[self.name]) for s in card.stages)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


def _json(text: str) -> Any:
    """``text`` as a JSON value (``true``/``True`` alike), or a sentinel equal to nothing."""
    lowered = text.strip().lower()
    try:
        return json.loads(lowered if lowered in ("true", "false", "null") else text)
    except ValueError:
        return _NOT_JSON


@dataclass(frozen=True)
class Query:
    """Criteria a version's card must all meet; an empty query matches every version."""

    params: tuple[ParamCondition, ...] = ()
    metrics: tuple[Gate, ...] = ()
    dataset: str | None = None
    labels: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        params: Iterable[str] = (),
        metrics: Iterable[str] = (),
        dataset: str | None = None,
        labels: Iterable[str] = (),
    ) -> Query:
        """A query from command-line text: ``maxDepth=10``, ``auc>0.8``, a fingerprint or path, labels."""
        return cls(
            tuple(ParamCondition.parse(p) for p in params),
            tuple(parse_gate(m) for m in metrics),
            dataset or None,
            tuple(labels),
        )

    def matches(self, card: ModelCard) -> bool:
        """Whether ``card`` meets every criterion."""
        return (
            all(condition.matches(card) for condition in self.params)
            and all(_passes(gate, card) for gate in self.metrics)
            and (self.dataset is None or _uses_dataset(card, self.dataset))
            and all(label in card.labels for label in self.labels)
        )


def _passes(gate: Gate, card: ModelCard) -> bool:
    try:
        return gate.check(card).passed
    except (TypeError, ValueError):  # a card whose metric is not a number: it cannot satisfy a comparison
        return False


def _uses_dataset(card: ModelCard, dataset: str) -> bool:
    data = card.training or TrainingData()
    by_fingerprint = data.fingerprint is not None and data.fingerprint.lower().startswith(dataset.strip().lower())
    return by_fingerprint or (data.source is not None and dataset in data.source)


def search(
    module: Module | str,
    query: Query,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
) -> list[VersionCard]:
    """The versions of ``module`` whose cards match ``query``, newest first.

    Cards are read through the card cache (``settings.cache_dir``): a repeated search reads one checksum per
    version and downloads no card twice. Versions without a card (deployed by other tools) never match.

    :raises InvalidCoordinate: ``module`` does not parse. :raises ArtifactNotFound: ``module`` has no released
        versions at all. :raises IntegrityError: a card does not match its
        checksum. :raises RepositoryUnavailable, AuthenticationFailed: the repository cannot be used.
    """
    return search_explained(module, query, repository=repository, settings=settings)[0]


def search_explained(
    module: Module | str,
    query: Query,
    *,
    repository: Repository | str | None = None,
    settings: Settings | None = None,
) -> tuple[list[VersionCard], str | None]:
    """:func:`search`, and when nothing matches because no version records a metric the query names, a note
    saying so and which metrics the versions do record (``None`` otherwise)."""
    module = module if isinstance(module, Module) else Module.parse(module)
    with using_repository(repository, settings) as (repo, active):
        history = read_history(module, repo, cache=Cache(active.cache_dir))
        if not history.cards and not history.without_card:
            raise never_released(repo, module)
    found = [record for record in history.cards if query.matches(record.card)]
    return found, None if found else _unrecorded(query, [record.card for record in history.cards])


def _unrecorded(query: Query, cards: list[ModelCard]) -> str | None:
    """Which metrics of ``query`` no card records, and the names the cards do record."""
    recorded = sorted({name for card in cards for name in card.metrics})
    missing = [g.name for g in query.metrics if all(g.actual(card) is None for card in cards)]
    if not missing:
        return None
    names = ", ".join(repr(name) for name in missing)
    known = f"the metrics recorded are {', '.join(recorded)}" if recorded else "no version records any metric"
    return f"No version records a metric named {names}: {known}."
