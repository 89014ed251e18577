"""How values and people read, once for every edge: the terminal (``registry.cli.render``) and the HTML catalog.

Pure functions from card data to text, with no I/O and no markup: each edge escapes or styles the text itself.
Cards are user data that only a checksum vouches for, so every function takes whatever a card holds and never
raises; what is missing reads as ``-`` (:data:`MISSING`), what is malformed reads as well as it can.

- a **value** (a metric, a param, a field): strings as written; ``true``/``false``; integers in full; floats to
  6 significant digits, keeping a ``.0`` so that a float param never reads as an integer one; lists and mappings
  as compact JSON, the form ``registry search --param`` accepts; anything longer than :data:`MAX_TEXT` cut with
  ``…`` (``--json`` has the full value).
- a **person**: ``user@host``; a **time**: ISO 8601 UTC to the second, ``2024-01-18T09:30:00Z``; a **data
  fingerprint**: in full, or its first :data:`SHORT_FINGERPRINT` characters in lists; a **size**: ``22.4 MiB``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from registry.modelcard import Stage
from registry.promotion import GateRecord
from registry.watermark import NOT_DEPLOYED, Watermark

__all__ = [
    "runtime",
    "MAX_TEXT",
    "MISSING",
    "NO_STAGES",
    "SHORT_FINGERPRINT",
    "TRAINING_KEYS",
    "clip",
    "commit",
    "delta",
    "fingerprint",
    "gate",
    "labels",
    "mapping",
    "metrics",
    "number",
    "params",
    "size",
    "time",
    "training_data",
    "value",
    "verdict",
    "when_by",
    "who",
]

#: What stands for a value that is absent (``None``, a key the card does not have).
MISSING = "-"
#: Said of a version whose card records no stages, where its stages and params would be.
NO_STAGES = (
    "none recorded: deployed as files, not as a saved Spark pipeline, so its params are unknown (and the "
    "versioning guard cannot compare them)"
)
#: Longer text is cut: a table row, or a catalog cell, stays readable.
MAX_TEXT = 160
#: Characters of a fingerprint in lists: enough to tell datasets apart and to pass to ``search --dataset``.
SHORT_FINGERPRINT = 8
#: The training-data fields shown, in order (the schema is compared by ``diff``, not shown).
TRAINING_KEYS = ("fingerprint", "rows", "source", "table_version")


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text``, cut to ``limit`` characters with ``…`` when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one: a malformed card section reads as empty."""
    return value if isinstance(value, Mapping) else {}


def runtime(tools: Any) -> str | None:
    """The runtime contract a card records: ``Spark 4.0.1 (Scala 2.13.16, Java 17.0.12), Python 3.11.9; loads in
    Spark 4.0 or newer`` (a session of an older Spark refuses it unless told otherwise); ``None`` without Spark."""
    tools = mapping(tools)
    if not tools.get("spark"):
        return None
    jvm = ", ".join(f"{name} {tools[key]}" for name, key in (("Scala", "scala"), ("Java", "java")) if tools.get(key))
    python = f", Python {tools['python']}" if tools.get("python") else ""
    parts = str(tools["spark"]).split(".")
    series = f"{parts[0]}.{parts[1]}" if len(parts) > 1 else str(tools["spark"])
    return f"Spark {tools['spark']}{f' ({jvm})' if jvm else ''}{python}; loads in Spark {series} or newer"


def number(value: float) -> str:
    """An int in full; a float to 6 significant digits, ``2.0`` not ``2``: ``0.91``, ``1e-08``, ``1.23457e+06``."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    shown = f"{value:.6g}"
    return shown + ".0" if math.isfinite(value) and shown.lstrip("-").isdigit() else shown


def value(item: Any, limit: int = MAX_TEXT) -> str:
    """Any card value as text (see the module docstring), cut to ``limit`` characters."""
    if item is None:
        return MISSING
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (int, float)):
        shown = number(item)
    elif isinstance(item, str):
        shown = item
    else:
        shown = json.dumps(item, separators=(",", ":"), default=str)
    return clip(shown, limit)


def delta(change: float | None) -> str:
    """A signed difference, ``+0.09`` or ``-0.02``; ``0`` when equal, ``-`` when either side has no number."""
    if change is None:
        return MISSING
    return "0" if change == 0 else f"{change:+.6g}"


def who(actor: Any) -> str:
    """A ``deployed_by`` or ``promoted_by`` record as ``user@host`` (``?`` for a part it lacks)."""
    found = mapping(actor)
    return f"{found.get('user', '?')}@{found.get('host', '?')}"


def time(stamp: Any) -> str:
    """A moment as ISO 8601 UTC to the second: ``2024-01-18T09:30:00Z``; text that is no time is kept as written."""
    if stamp is None:
        return MISSING
    if isinstance(stamp, dt.datetime):
        moment = stamp
    elif not isinstance(stamp, str):
        return value(stamp)
    else:
        try:
            moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return clip(stamp)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)  # cards and records are written in UTC
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def when_by(stamp: Any, actor: Any) -> str:
    """``2024-01-18T09:30:00Z by alice@trainer-1``: when a version was deployed or promoted, and by whom."""
    return f"{time(stamp)} by {who(actor)}"


def fingerprint(digest: Any, *, short: bool = False) -> str:
    """A training-data fingerprint: in full, or (``short``) its first :data:`SHORT_FINGERPRINT` characters."""
    if not isinstance(digest, str) or not digest:
        return value(digest)
    return digest[:SHORT_FINGERPRINT] if short else clip(digest)


def size(count: int) -> str:
    """A number of bytes for people: ``512 B``, ``1.5 KiB``, ``22.4 MiB``, ``1.0 GiB``."""
    if count < 1024:
        return f"{count} B"
    scaled = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        scaled /= 1024
        if scaled < 1024 or unit == "TiB":
            break
    return f"{scaled:.1f} {unit}"


def commit(code: Any) -> str | None:
    """The code a version was built from: ``deadbeef… (dirty) from https://git.acme.com/ml/churn.git``."""
    found = mapping(code)
    if not found:
        return None
    shown = value(found.get("commit"))
    if found.get("dirty"):
        shown += " (dirty)"
    if found.get("remote"):
        shown += f" from {value(found.get('remote'))}"
    return shown


def metrics(values: Any) -> list[tuple[str, str]]:
    """A card's metrics as ``(name, value)``, by name."""
    return sorted((str(name), value(item)) for name, item in mapping(values).items())


def training_data(data: Any) -> list[tuple[str, str]]:
    """The fields of :data:`TRAINING_KEYS` that the card's ``training_data`` records, the fingerprint in full."""
    found = mapping(data)
    return [
        (key, fingerprint(found[key]) if key == "fingerprint" else value(found[key]))
        for key in TRAINING_KEYS
        if key in found
    ]


def params(stage: Stage, coordinate: str | None = None) -> list[tuple[str, str, bool]]:
    """A stage's params as ``(name, value, is a default)``, by name. The watermark's statement, recorded with the
    ``<not deployed>`` placeholder, is shown as the jar holds it: with the version's ``coordinate``."""
    return [
        (name, value(_stamped(item, coordinate) if name == "statement" else item), name in stage.defaults)
        for name, item in sorted(stage.params.items())
    ]


def _stamped(statement: Any, coordinate: str | None) -> Any:
    watermark = Watermark.parse(statement) if isinstance(statement, str) and coordinate else None
    if watermark is None or watermark.value != NOT_DEPLOYED or coordinate is None:
        return statement
    return Watermark(watermark.column, coordinate).statement


def verdict(passed: bool) -> str:
    """How a gate's outcome reads: ``passed`` or ``FAILED``."""
    return "passed" if passed else "FAILED"


def gate(record: GateRecord) -> str:
    """A gate as checked at promotion: ``auc>=0.9 (actual 0.91)``."""
    return f"{record.expression} (actual {value(record.actual)})"


def labels(names: Iterable[Any]) -> str:
    """Labels as one line: ``candidate, prod``; ``-`` for none."""
    return ", ".join(str(name) for name in names) or MISSING
