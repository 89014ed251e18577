"""Versions and selectors, driven by one list in true order and checked against Maven's and Ivy's own code."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracles.java import IvyAnswers, MavenAnswers, ivy, maven

from registry.exceptions import InvalidSelector
from registry.versions import Selector, Version

# Every release version below, in true order. Drives the ordering tests, the selector table and the oracles.
VERSIONS = [
    "0.0.0",
    "0.0.1",
    "0.0.9",
    "0.0.10",
    "0.1.0",
    "0.9.0",
    "0.10.0",
    "1.0.0",
    "1.0.1",
    "1.0.2",
    "1.0.9",
    "1.0.10",
    "1.0.11",
    "1.1.0",
    "1.9.0",
    "1.10.0",
    "1.10.3",
    "1.11.0",
    "2.0.0",
    "2.0.1",
    "2.1.0",
    "9.9.9",
    "10.0.0",
    "10.2.3",
    "11.0.0",
    "100.0.0",
    "999999999.999999999.999999999",
]
NEWEST = VERSIONS[-1]

# What other tools write into maven-metadata.xml: never selected, never an error.
NON_RELEASES = ["2.0-rc1", "1.0-SNAPSHOT", "1.0.0.1", "v1", "1.11.0.1", "3.0", "01.2.0", "1.0.12-SNAPSHOT"]
NOT_VERSIONS = [
    *NON_RELEASES,
    "",
    " 1.0.0",
    "1.0.0\n",
    "1.0",
    "1.0.x",
    "-1.0.0",
    "+1.0.0",
    "1_0.0.0",
    "\uff11.0.0",  # a fullwidth digit
]

# selector -> the newest of VERSIONS it selects (None: none).
SELECTS: dict[str, str | None] = {
    "1.0.10": "1.0.10",
    "1.0.3": None,
    "0.0.0": "0.0.0",
    "1.0": "1.0.11",
    "1": "1.0.11",  # padded to 1.0, not 1.x: deploying g:a:1 makes 1.0.<next build>
    "0.0": "0.0.10",
    "1.1": "1.1.0",
    "1.10": "1.10.3",
    "10": "10.0.0",
    "3.0": None,
    "1.0.+": "1.0.11",
    "1.1.+": "1.1.0",
    "1.+": "1.11.0",
    "0.+": "0.10.0",
    "10.+": "10.2.3",
    "3.+": None,
    "+": NEWEST,
    "latest.release": NEWEST,
    "[1.0,2.0)": "1.11.0",
    "[1.0,2.0[": "1.11.0",
    "[1.0,2.0]": "2.0.0",
    "]1.0,2.0]": "2.0.0",
    "(1.0,2.0)": "1.11.0",
    "[1.0,)": NEWEST,
    "]1.0,)": NEWEST,
    "(,2.0]": "2.0.0",
    "(,2.0)": "1.11.0",
    "(,2.0[": "1.11.0",
    "(,1.0)": "0.10.0",
    "[1,2)": "1.11.0",
    "(1,2]": "2.0.0",
    "(2,3)": "2.1.0",
    "[11,)": NEWEST,
    "[1.0.10,1.0.11)": "1.0.10",
    "(1.0.9,1.0.11)": "1.0.10",
    "[0.0.1,0.0.9]": "0.0.9",
    "(0,0.0.1]": "0.0.1",
    "(1.0.0,2.0.0]": "2.0.0",
    "[1.0,1.0]": "1.0.0",
    "[10,10.0]": "10.0.0",
    "[2.0.2,2.1)": None,
    "(1.0.11,1.1.0)": None,
}
RANGES = [text for text in SELECTS if text[0] in "[](" or text[-1] in "[])"]

# Where Ivy disagrees with Maven (and us) on a range: Ivy ranks X.0.0 just above a shorter, equal bound X or
# X.0 (Maven pads X to X.0.0: equal). So a bound of fewer than three parts that equals a version is, for Ivy,
# below it: an exclusive lower bound lets the version in, an inclusive upper bound keeps it out. Nothing else
# differs. range -> {version: whether Ivy accepts it}.
IVY_RANGE_DIFFERENCES: dict[str, dict[str, bool]] = {
    "[1.0,2.0]": {"2.0.0": False},
    "]1.0,2.0]": {"1.0.0": True, "2.0.0": False},
    "(1.0,2.0)": {"1.0.0": True},
    "]1.0,)": {"1.0.0": True},
    "(,2.0]": {"2.0.0": False},
    "(1,2]": {"1.0.0": True, "2.0.0": False},
    "(2,3)": {"2.0.0": True},
    "(0,0.0.1]": {"0.0.0": True},
    "[1.0,1.0]": {"1.0.0": False},
    "[10,10.0]": {"10.0.0": False},
}
# ... which changes Ivy's pick for these selectors (selector -> Ivy's answer).
IVY_PICKS_DIFFERENTLY: dict[str, str | None] = {
    "[1.0,2.0]": "1.11.0",
    "]1.0,2.0]": "1.11.0",
    "(,2.0]": "1.11.0",
    "(1,2]": "1.11.0",
    "[1.0,1.0]": None,
    "[10,10.0]": None,
}
# Ivy's matchers take any text, so with NON_RELEASES in the list Ivy picks one of them for many selectors
# (17 of SELECTS), e.g. these; we never do.
IVY_PICKS_NON_RELEASE: dict[str, str] = {
    "1.0": "1.0.12-SNAPSHOT",
    "1.+": "1.11.0.1",
    "3.+": "3.0",
    "[1.0,2.0)": "2.0-rc1",
    "(,1.0)": "1.0-SNAPSHOT",
    "[1,2)": "2.0-rc1",
}


def _v(text: str | None) -> Version | None:
    return None if text is None else Version.parse(text)


# --- Version ---------------------------------------------------------------------------------------------


def test_versions_list_is_strictly_increasing() -> None:
    parsed = [Version.parse(text) for text in VERSIONS]
    assert all(a < b for a, b in itertools.pairwise(parsed))


def test_sorting_any_order_gives_the_list() -> None:
    shuffled = [Version.parse(text) for text in VERSIONS]
    random.Random(7).shuffle(shuffled)
    assert [str(v) for v in sorted(shuffled)] == VERSIONS


@pytest.mark.parametrize("text", VERSIONS)
def test_version_str_round_trips(text: str) -> None:
    assert str(Version.parse(text)) == text


def test_version_is_a_hashable_value() -> None:
    assert Version.parse("1.0.10") == Version(1, 0, 10)
    assert len({Version.parse("1.0.10"), Version(1, 0, 10)}) == 1
    assert Version(1, 0, 10).parts == (1, 0, 10)
    with pytest.raises(AttributeError):
        Version(1, 0, 10).build = 11  # type: ignore[misc]


@pytest.mark.parametrize("parts", [(-1, 0, 0), (0, 0, 1_000_000_000)])
def test_version_refuses_parts_out_of_range(parts: tuple[int, int, int]) -> None:
    with pytest.raises(InvalidSelector):
        Version(*parts)


@pytest.mark.parametrize("text", [*NOT_VERSIONS, "1.0.0.0", "01.0.0", "1.00.0", "1234567890.0.0", "1..0"])
def test_version_parse_refuses_with_the_input_quoted(text: str) -> None:
    assert Version.try_parse(text) is None
    with pytest.raises(InvalidSelector, match=r"expected MAJOR\.MINOR\.BUILD") as caught:
        Version.parse(text)
    assert repr(text) in str(caught.value)


# --- Selector --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), SELECTS.items())
def test_select(text: str, expected: str | None) -> None:
    selector = Selector.parse(text)
    assert selector.select(VERSIONS) == _v(expected)
    assert selector.select(map(Version.parse, VERSIONS)) == _v(expected)
    matching = [v for v in VERSIONS if selector.matches(Version.parse(v))]
    assert (matching[-1] if matching else None) == expected


@pytest.mark.parametrize("text", SELECTS)
def test_non_releases_are_ignored(text: str) -> None:
    mixed = VERSIONS + NOT_VERSIONS
    random.Random(text).shuffle(mixed)
    assert Selector.parse(text).select(mixed) == _v(SELECTS[text])
    assert Selector.parse(text).select(NOT_VERSIONS) is None


@pytest.mark.parametrize(
    ("text", "canonical", "ivy_revision"),
    [
        ("1.0.3", "1.0.3", "1.0.3"),
        ("1.0", "1.0", "1.0.+"),
        ("1", "1.0", "1.0.+"),
        ("1.0.+", "1.0.+", "1.0.+"),
        ("1.+", "1.+", "1.+"),
        ("+", "+", "+"),
        ("latest.release", "latest.release", "latest.release"),
        ("[1.0,2.0)", "[1.0,2.0)", "[1.0.0,2.0.0)"),
        ("[1.0,2.0[", "[1.0,2.0)", "[1.0.0,2.0.0)"),
        ("]1.0,2.0]", "(1.0,2.0]", "(1.0.0,2.0.0]"),
        ("]1.0,)", "(1.0,)", "(1.0.0,)"),
        ("(,2.0.3]", "(,2.0.3]", "(,2.0.3]"),
        ("[1,2)", "[1,2)", "[1.0.0,2.0.0)"),
    ],
)
def test_canonical_text_and_ivy_revision(text: str, canonical: str, ivy_revision: str) -> None:
    selector = Selector.parse(text)
    assert (str(selector), selector.to_ivy()) == (canonical, ivy_revision)
    assert Selector.parse(canonical) == selector
    assert hash(Selector.parse(canonical)) == hash(selector)
    assert repr(selector) == f"Selector.parse({canonical!r})"


def test_only_an_exact_selector_is_static() -> None:
    assert Selector.parse("1.0.3").exact == Version(1, 0, 3)
    assert not Selector.parse("1.0.3").is_dynamic
    for text in SELECTS.keys() - {"1.0.10", "1.0.3", "0.0.0"}:
        assert Selector.parse(text).exact is None
        assert Selector.parse(text).is_dynamic


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "must not be empty"),
        (" ", "whitespace"),
        ("1.0 ", "whitespace"),
        ("[ 1.0,2.0)", "whitespace"),
        ("[1.0, 2.0)", "whitespace"),
        ("1.0\x00", "control characters"),
        ("\t", "whitespace"),
        ("..", "expected 1.0.3 (exact)"),
        ("latest", "write latest.release"),
        ("LATEST", "write latest.release"),
        ("RELEASE", "write latest.release"),
        ("latest.integration", "write latest.release"),
        ("1.0.x", "expected 1.0.3 (exact)"),
        ("-1", "expected"),
        ("01.0", "expected"),
        ("1.00", "expected"),
        ("1.0.0.0", "expected"),
        ("1234567890", "expected"),
        ("1.1+", "Ivy would also match 1.10"),
        ("1.1+", "write '1.1.+' for the newest 1.1.x, or '1.+'"),
        ("1.0+", "write '1.0.+'"),
        ("1+", "Ivy would also match 10"),
        ("1.0.3+", "'[1.0.3,)'"),
        ("1.0.3.+", "write 1.0.3"),
        ("1..+", "expected"),
        ("++", "expected"),
        ("x+", "expected"),
        ("(,)", "at least one bound"),
        ("[,]", "at least one bound"),
        ("[2.0,1.0]", "lower bound is above the upper bound"),
        ("(1.0,1.0)", "the range is empty"),
        ("[1.0,1.0.0)", "the range is empty"),
        ("(1.0.3,1.0.3]", "the range is empty"),
        ("[1.0,2.0", "unbalanced"),
        ("1.0,2.0)", "unbalanced"),
        ("[1.0,2.0))", "unbalanced"),
        ("(1.0)", "unbalanced"),
        ("[1,2),[3,4)", "unions of ranges"),
        ("[1.0.3]", "write 1.0.3 instead"),
        ("[,2.0]", "an open bound takes"),
        ("[1.0,]", "an open bound takes"),
        ("[1.0.x,2.0)", "range bound '1.0.x'"),
        ("[1.0.0.0,2.0)", "range bound '1.0.0.0'"),
        ("[01,2)", "range bound '01'"),
    ],
)
def test_parse_refuses_with_the_input_quoted(text: str, hint: str) -> None:
    with pytest.raises(InvalidSelector) as caught:
        Selector.parse(text)
    message = str(caught.value)
    assert repr(text) in message
    assert hint in message


_SELECTOR_ALPHABET = st.sampled_from([*"0123456789.,+[]()- \t\n", "latest", "release", "01", "999999999"])


@given(st.one_of(st.text(), st.lists(_SELECTOR_ALPHABET, max_size=12).map("".join)))
def test_selector_parse_returns_or_raises_invalid_selector(text: str) -> None:
    try:
        selector = Selector.parse(text)
    except InvalidSelector as exc:
        message = str(exc)
    else:
        assert Selector.parse(str(selector)) == selector
        assert Selector.parse(selector.to_ivy()).select(VERSIONS) == selector.select(VERSIONS)
        return
    assert repr(text) in message


@given(st.one_of(st.text(), st.lists(st.sampled_from([*"0123456789.", "01"]), max_size=8).map("".join)))
def test_version_parse_returns_or_raises_invalid_selector(text: str) -> None:
    try:
        version = Version.parse(text)
    except InvalidSelector:
        assert Version.try_parse(text) is None
        return
    assert str(version) == text
    assert Version.parse(str(version)) == version


@given(st.tuples(*[st.integers(0, 999_999_999)] * 3), st.tuples(*[st.integers(0, 999_999_999)] * 3))
def test_version_order_is_numeric_per_part(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    assert (Version(*a) < Version(*b)) == (a < b)
    assert Version.parse(str(Version(*a))) == Version(*a)


# --- The oracles: Maven's and Ivy's own code, one JVM per batch -------------------------------------------


@pytest.fixture(scope="module")
def maven_answers() -> MavenAnswers:
    return maven(VERSIONS, [str(Selector.parse(text)) for text in RANGES])


@pytest.fixture(scope="module")
def ivy_answers() -> IvyAnswers:
    revisions = [Selector.parse(text).to_ivy() for text in SELECTS]
    return ivy([*revisions, *(str(Selector.parse(text)) for text in RANGES)], VERSIONS)


@pytest.fixture(scope="module")
def ivy_answers_with_non_releases() -> IvyAnswers:
    return ivy([Selector.parse(text).to_ivy() for text in SELECTS], VERSIONS + NON_RELEASES)


@pytest.mark.integration
def test_maven_orders_the_list_identically(maven_answers: MavenAnswers) -> None:
    assert list(maven_answers.sorted) == VERSIONS


@pytest.mark.integration
def test_ivy_orders_the_list_identically(ivy_answers: IvyAnswers) -> None:
    assert list(ivy_answers.sorted) == VERSIONS


@pytest.mark.integration
@pytest.mark.parametrize("text", RANGES)
def test_ranges_match_like_maven(maven_answers: MavenAnswers, text: str) -> None:
    selector = Selector.parse(text)
    ours = [v for v in VERSIONS if selector.matches(Version.parse(v))]
    assert list(maven_answers.contains[str(selector)]) == ours


@pytest.mark.integration
@pytest.mark.parametrize("text", SELECTS)
def test_ivy_picks_the_same(ivy_answers: IvyAnswers, text: str) -> None:
    assert ivy_answers.select[Selector.parse(text).to_ivy()].newest == SELECTS[text]


@pytest.mark.integration
@pytest.mark.parametrize("text", RANGES)
def test_ranges_written_with_short_bounds_pick_differently_in_ivy(ivy_answers: IvyAnswers, text: str) -> None:
    selector = Selector.parse(text)
    assert ivy_answers.select[str(selector)].newest == IVY_PICKS_DIFFERENTLY.get(text, SELECTS[text])


@pytest.mark.integration
@pytest.mark.parametrize("text", RANGES)
def test_ivy_range_differences_are_exactly_the_pinned_ones(ivy_answers: IvyAnswers, text: str) -> None:
    selector = Selector.parse(text)
    accepted = set(ivy_answers.select[str(selector)].accepted)
    differences = {v: v in accepted for v in VERSIONS if (v in accepted) != selector.matches(Version.parse(v))}
    assert differences == IVY_RANGE_DIFFERENCES.get(text, {})
    # to_ivy() pads the bounds to three parts, which makes Ivy agree everywhere.
    padded = set(ivy_answers.select[selector.to_ivy()].accepted)
    assert padded == {v for v in VERSIONS if selector.matches(Version.parse(v))}


@pytest.mark.integration
@pytest.mark.parametrize("text", SELECTS)
def test_ivy_would_pick_non_releases(ivy_answers_with_non_releases: IvyAnswers, text: str) -> None:
    answer = ivy_answers_with_non_releases.select[Selector.parse(text).to_ivy()].newest
    assert answer == IVY_PICKS_NON_RELEASE.get(text, answer)
    assert answer == SELECTS[text] or Version.try_parse(answer or "") is None
