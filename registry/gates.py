"""Quality gates: ``areaUnderROC>=0.85``, ``rows>=10000``, checked against a model card before promotion.

A gate is ``NAME OP NUMBER`` with ``OP`` one of ``>= > <= < == !=``. ``NAME`` is a metric of the card, or
``rows`` (the training data's row count). Gates are parsed, never evaluated as code: anything else is refused.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from registry.exceptions import InvalidGate
from registry.modelcard import ModelCard
from registry.promotion import GateRecord

__all__ = ["Gate", "GateResult", "evaluate", "parse_gate"]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_GATE = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_.\-]{0,99})\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*\Z"
)
_FORM = "expected NAME OP NUMBER with OP one of >= > <= < == !=, e.g. areaUnderROC>=0.85 or rows>=10000"


@dataclass(frozen=True)
class Gate:
    """One parsed condition."""

    name: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.threshold:g}"

    def actual(self, card: ModelCard) -> float | None:
        """The card's value for this gate's name, as the card holds it (``rows`` a whole number), or ``None`` when
        the card does not record it."""
        if self.name in card.metrics:
            value = card.metrics[self.name]
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else float(value)
        if self.name == "rows" and card.training and card.training.rows is not None:
            return card.training.rows
        return None

    def check(self, card: ModelCard) -> GateResult:
        value = self.actual(card)
        passed = value is not None and _OPERATORS[self.op](value, self.threshold)
        return GateResult(self, value, passed)


@dataclass(frozen=True)
class GateResult:
    """A gate and what the card said."""

    gate: Gate
    actual: float | None
    passed: bool

    def __str__(self) -> str:
        seen = "not recorded in the model card" if self.actual is None else f"{self.actual:g}"
        return f"{self.gate} ({'passed' if self.passed else 'FAILED'}: {self.gate.name} is {seen})"

    def record(self) -> GateRecord:
        """How the result is kept in a promotion record."""
        return GateRecord(str(self.gate), self.gate.name, self.actual, self.passed)


def parse_gate(text: str) -> Gate:
    """Parse ``NAME OP NUMBER``; anything else raises :class:`InvalidGate` quoting the text."""
    match = _GATE.match(text) if isinstance(text, str) else None
    if not match:
        raise InvalidGate(f"Invalid gate: {text!r} ({_FORM})")
    name, op, number = match.groups()
    threshold = float(number)
    if not math.isfinite(threshold):
        raise InvalidGate(f"Invalid gate: {text!r}: the threshold must be a finite number")
    return Gate(name, op, threshold)


def evaluate(gates: Iterable[Gate | str], card: ModelCard) -> list[GateResult]:
    """Check every gate against ``card`` (strings are parsed first)."""
    return [(g if isinstance(g, Gate) else parse_gate(g)).check(card) for g in gates]
