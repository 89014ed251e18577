"""The watermark as a value: a column and the coordinate it adds to every row, and the ``SQLTransformer``
statement that adds it::

    SELECT * FROM (SELECT *, '<not deployed>' AS `pipeline` FROM __THIS__) WHERE `pipeline` IS NOT NULL

No Spark here: :mod:`registry.savedmodel` stamps it into a saved model without one, :mod:`registry.formatting`
shows it, and :mod:`registry.spark.watermark` builds the stage (and says why the sub-query).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry.exceptions import InvalidInput

__all__ = ["NOT_DEPLOYED", "Watermark"]

#: What the watermark column says before the model is deployed.
NOT_DEPLOYED = "<not deployed>"
# SQLTransformer replaces this token textually, so it must not appear in a column name or a value.
_THIS = "__THIS__"
_STATEMENT = re.compile(
    r"SELECT \* FROM \(SELECT \*, '((?:[^'\\]|\\.)*)' AS (`(?:[^`]|``)+`) FROM __THIS__\) WHERE \2 IS NOT NULL",
    re.DOTALL,
)


def _check_text(value: str, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"The watermark {what} must be a non-empty string, not {value!r}.")
    if _THIS in value or any(not c.isprintable() for c in value):
        raise InvalidInput(f"The watermark {what} {value!r} must not contain {_THIS} or control characters.")


@dataclass(frozen=True)
class Watermark:
    """A watermark column and the value it adds to every row."""

    column: str
    value: str

    def __post_init__(self) -> None:
        _check_text(self.column, "column")
        _check_text(self.value, "value")

    @property
    def statement(self) -> str:
        """The ``SQLTransformer`` statement (column backquoted, value escaped as a Spark SQL string literal)."""
        column = "`" + self.column.replace("`", "``") + "`"
        literal = "'" + self.value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        # Both parts are quoted just above: the column backquoted, the value escaped as a string literal.
        return f"SELECT * FROM (SELECT *, {literal} AS {column} FROM {_THIS}) WHERE {column} IS NOT NULL"  # noqa: S608

    @classmethod
    def parse(cls, statement: str) -> Watermark | None:
        """The watermark a statement adds, or ``None`` if it is not a watermark statement."""
        match = _STATEMENT.fullmatch(statement)
        if match is None:
            return None
        value = re.sub(r"\\(.)", r"\1", match.group(1), flags=re.DOTALL)
        return cls(match.group(2)[1:-1].replace("``", "`"), value)
