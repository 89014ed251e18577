"""Release versions (``MAJOR.MINOR.BUILD``) and the selectors that pick one of them.

A release version is exactly three dot-separated non-negative integers without leading zeros (``1.0.3``).
Other versions that tools write into a repository (``2.0-rc1``, ``1.0-SNAPSHOT``) are ignored, never selected.
A selector is one of:

- ``1.0.3``: exactly that version;
- ``1.0`` or ``1``: the newest build of the series 1.0 (``1`` is padded to ``1.0``, just as deploying
  ``g:a:1`` makes ``1.0.<next build>``);
- ``1.0.+``, ``1.+``, ``+``: Ivy sub-revisions, the newest version starting with ``1.0.``, ``1.``, or any;
- ``latest.release``: the newest version;
- a Maven/Ivy range such as ``[1.0,2.0)``, ``(,2.0]`` or ``]1.0,2.0[``: a bracket facing the bound includes
  it, ``(``, ``)`` or a bracket facing away excludes it, an empty bound is open. Bounds have 1 to 3 parts and
  compare padded with zeros, as in Maven (``2.0`` == ``2.0.0``).

Refused, saying what to write instead: Ivy prefixes without a final dot (``1.1+``: Ivy also matches 1.10),
Maven's exact ``[1.0.3]`` and unions of ranges, Maven's ``LATEST``/``RELEASE``. `Selector.to_ivy` gives the
revision that asks Apache Ivy the same question.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

from registry.exceptions import InvalidSelector

__all__ = ["Selector", "Version"]

_MAX_PART = 999_999_999
_PART = r"(?:0|[1-9][0-9]{0,8})"  # [0-9], not \d, which also matches non-ASCII digits
_VERSION_RE = re.compile(rf"({_PART})\.({_PART})\.({_PART})")
_PARTS_RE = re.compile(rf"{_PART}(?:\.{_PART}){{0,2}}")
_RANGE_RE = re.compile(r"([\[\]\(])([^,]*),([^,]*)([\]\[\)])")
_FORMS = (
    "expected 1.0.3 (exact), 1.0 or 1 (newest build of 1.0), 1.0.+, 1.+ or + (Ivy sub-revision), "
    "latest.release, or a range such as [1.0,2.0)"
)

_Parts = tuple[int, ...]


@dataclass(frozen=True, order=True)
class Version:
    """A release version ``MAJOR.MINOR.BUILD``, ordered numerically part by part (1.0.10 > 1.0.9)."""

    major: int
    minor: int
    build: int

    def __post_init__(self) -> None:
        if not (0 <= self.major <= _MAX_PART and 0 <= self.minor <= _MAX_PART and 0 <= self.build <= _MAX_PART):
            raise InvalidSelector(f"Invalid version: {self.parts} (each part must be from 0 to {_MAX_PART})")

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``1.2.7`` strictly; raise `InvalidSelector` for anything else."""
        version = cls.try_parse(text)
        if version is None:
            raise InvalidSelector(
                f"Invalid version: {text!r} (expected MAJOR.MINOR.BUILD of non-negative integers, e.g. 1.2.7)"
            )
        return version

    @classmethod
    def try_parse(cls, text: str) -> Version | None:
        """Parse like `parse`, but return None for anything that is not a release version."""
        match = _VERSION_RE.fullmatch(text)
        return cls(*map(int, match.groups())) if match else None

    @property
    def parts(self) -> tuple[int, int, int]:
        """``(major, minor, build)``."""
        return (self.major, self.minor, self.build)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}"


class Selector(ABC):
    """A parsed version selector; the module docstring lists the forms."""

    @staticmethod
    def parse(text: str) -> Selector:
        """Parse a selector; raise `InvalidSelector`, quoting ``text``, if it is none of the forms."""
        return _parse(text)

    @abstractmethod
    def matches(self, version: Version) -> bool:
        """Whether ``version`` satisfies this selector."""

    def to_ivy(self) -> str:
        """The revision that asks Apache Ivy the same question."""
        return str(self)

    @abstractmethod
    def __str__(self) -> str:
        """The canonical text, which parses back to an equal selector."""

    @property
    def exact(self) -> Version | None:
        """The version an exact selector names; None for a dynamic one."""
        return None

    @property
    def is_dynamic(self) -> bool:
        """Whether the answer depends on which versions exist (true for all but an exact version)."""
        return self.exact is None

    def select(self, versions: Iterable[str | Version]) -> Version | None:
        """The newest matching version, or None; strings that are not release versions are ignored."""
        parsed = (v if isinstance(v, Version) else Version.try_parse(v) for v in versions)
        return max((v for v in parsed if v is not None and self.matches(v)), default=None)

    def __repr__(self) -> str:
        return f"Selector.parse({str(self)!r})"


@dataclass(frozen=True, repr=False)
class _Exact(Selector):
    version: Version

    @property
    def exact(self) -> Version:
        return self.version

    def matches(self, version: Version) -> bool:
        return version == self.version

    def __str__(self) -> str:
        return str(self.version)


@dataclass(frozen=True, repr=False)
class _Prefix(Selector):
    """Versions whose leading parts are ``prefix``: a series (``1.0``) or an Ivy sub-revision (``1.0.+``)."""

    prefix: _Parts
    ivy_form: bool

    def matches(self, version: Version) -> bool:
        return version.parts[: len(self.prefix)] == self.prefix

    def to_ivy(self) -> str:
        return ".".join([*map(str, self.prefix), "+"])

    def __str__(self) -> str:
        return self.to_ivy() if self.ivy_form else _dotted(self.prefix)


@dataclass(frozen=True, repr=False)
class _Latest(Selector):
    def matches(self, version: Version) -> bool:
        return True

    def __str__(self) -> str:
        return "latest.release"


@dataclass(frozen=True, repr=False)
class _Range(Selector):
    """A range; None is an open bound, and bounds keep the parts as written so that `str` gives them back.

    `to_ivy` pads the bounds to three parts, which makes Ivy agree with Maven and us everywhere. A range written
    with short bounds and given to Ivy directly differs only where such a bound equals a version: Ivy ranks
    2.0.0 above 2.0, so its ``[1.0,2.0]`` excludes 2.0.0 and its ``(1.0,2.0)`` includes 1.0.0.
    tests/test_versions.py pins exactly those cases.
    """

    low: _Parts | None
    high: _Parts | None
    low_inclusive: bool
    high_inclusive: bool

    def matches(self, version: Version) -> bool:
        v = version.parts
        low, high = self.low, self.high
        above = low is None or (v >= _pad(low) if self.low_inclusive else v > _pad(low))
        below = high is None or (v <= _pad(high) if self.high_inclusive else v < _pad(high))
        return above and below

    def to_ivy(self) -> str:
        opening = "[" if self.low_inclusive else "("
        closing = "]" if self.high_inclusive else ")"
        low = _dotted(_pad(self.low)) if self.low is not None else ""
        high = _dotted(_pad(self.high)) if self.high is not None else ""
        return f"{opening}{low},{high}{closing}"

    def __str__(self) -> str:
        opening = "[" if self.low_inclusive else "("
        closing = "]" if self.high_inclusive else ")"
        return f"{opening}{_dotted(self.low or ())},{_dotted(self.high or ())}{closing}"


def _dotted(parts: _Parts) -> str:
    return ".".join(map(str, parts))


def _ints(text: str) -> _Parts:
    return tuple(int(part) for part in text.split("."))


def _pad(parts: _Parts) -> _Parts:
    return (*parts, 0, 0)[:3]


def _invalid(text: str, why: str = _FORMS) -> InvalidSelector:
    return InvalidSelector(f"Invalid version selector: {text!r} ({why})")


def _parse(text: str) -> Selector:
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        raise _invalid(text, f"it must not be empty or contain whitespace or control characters; {_FORMS}")
    if text == "latest.release":
        return _Latest()
    if text.lower() in {"latest", "release", "latest.release", "latest.integration"}:
        raise _invalid(text, "write latest.release for the newest release")
    if _PARTS_RE.fullmatch(text):
        parts = _ints(text)
        return _Exact(Version(*parts)) if len(parts) == 3 else _Prefix((*parts, 0)[:2], ivy_form=False)
    if text.endswith("+"):
        return _parse_sub_revision(text)
    if text[0] in "[](" or text[-1] in "[])":
        return _parse_range(text)
    raise _invalid(text)


def _parse_sub_revision(text: str) -> Selector:
    head = text[:-1]
    if not head:
        return _Prefix((), ivy_form=True)
    if head.endswith(".") and _PARTS_RE.fullmatch(head[:-1]):
        parts = _ints(head[:-1])
        if len(parts) < 3:
            return _Prefix(parts, ivy_form=True)
        raise _invalid(text, f"a release has three parts; write {head[:-1]} for that exact version")
    if _PARTS_RE.fullmatch(head):
        # Ivy's sub-revision matcher compares text, not parts: real Ivy resolves '1.1+' to 1.10.0
        # (tests/integration/test_ivy_resolution.py), so this form would silently jump series.
        parts = _ints(head)
        instead = {
            1: f"'{head}.+' for the newest {head}.x",
            2: f"'{head}.+' for the newest {head}.x, or '{parts[0]}.+' for the newest {parts[0]}.x",
            3: f"'{head}' for that exact version, or '[{head},)' for it or newer",
        }[len(parts)]
        raise _invalid(text, f"Ivy would also match {head}0 and the like; write {instead}")
    raise _invalid(text)


def _parse_range(text: str) -> Selector:
    if text.count(",") > 1:
        raise _invalid(text, "one range only; Maven's unions of ranges such as [1,2),[3,4) are not supported")
    match = _RANGE_RE.fullmatch(text)
    if match is None or any(c in "[]()" for c in match[2] + match[3]):
        if "," not in text and text[0] == "[" and text[-1] == "]":
            raise _invalid(text, f"Maven's exact-version range; write {text[1:-1]} instead")
        raise _invalid(text, "unbalanced brackets; a range looks like [1.0,2.0), (1.0,2.0] or (,2.0]")
    opening, low_text, high_text, closing = match.groups()
    for bound in (low_text, high_text):
        if bound and not _PARTS_RE.fullmatch(bound):
            raise _invalid(text, f"range bound {bound!r} is not 1 to 3 numbers such as 1, 1.0 or 1.0.3")
    if not low_text and not high_text:
        raise _invalid(text, "a range needs at least one bound; write latest.release for any version")
    low_inclusive, high_inclusive = opening == "[", closing == "]"
    if (not low_text and low_inclusive) or (not high_text and high_inclusive):
        # Maven reads [,2.0] as (,2.0], but Ivy does not recognise it as a range at all.
        raise _invalid(text, "an open bound takes '(' or ')', as in (,2.0] or [1.0,)")
    low = _ints(low_text) if low_text else None
    high = _ints(high_text) if high_text else None
    if low is not None and high is not None:
        if _pad(low) > _pad(high):
            raise _invalid(text, "the lower bound is above the upper bound")
        if _pad(low) == _pad(high) and not (low_inclusive and high_inclusive):
            raise _invalid(text, "the range is empty")
    return _Range(low, high, low_inclusive, high_inclusive)
