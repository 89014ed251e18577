from __future__ import annotations

import pytest

from registry.coordinates import Coordinate, DeployTarget, Module, parse_request
from registry.exceptions import InvalidCoordinate
from registry.versions import Version


def test_coordinate_parses_and_derives_repository_paths() -> None:
    c = Coordinate.parse("com.acme.risk:churn-eu:1.2.10")
    assert c == Coordinate("com.acme.risk", "churn-eu", Version(1, 2, 10))
    assert str(c) == "com.acme.risk:churn-eu:1.2.10"
    assert c.path("jar") == "com/acme/risk/churn-eu/1.2.10/churn-eu-1.2.10.jar"
    assert c.path("json", "model") == "com/acme/risk/churn-eu/1.2.10/churn-eu-1.2.10-model.json"
    assert c.module.metadata_path == "com/acme/risk/churn-eu/maven-metadata.xml"


def test_coordinates_order_by_version_numbers() -> None:
    versions = ["1.0.10", "1.0.9", "1.10.0", "1.2.0"]
    ordered = sorted(Coordinate.parse(f"com.acme:churn:{v}") for v in versions)
    assert [str(c.version) for c in ordered] == ["1.0.9", "1.0.10", "1.2.0", "1.10.0"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("com.acme:churn:1.2", DeployTarget(Module("com.acme", "churn"), 1, 2, None)),
        ("com.acme:churn:1", DeployTarget(Module("com.acme", "churn"), 1, 0, None)),
        ("com.acme:churn:1.2.7", DeployTarget(Module("com.acme", "churn"), 1, 2, 7)),
    ],
)
def test_deploy_target_assigns_build_unless_given(text: str, expected: DeployTarget) -> None:
    target = DeployTarget.parse(text)
    assert target == expected
    assert (target.exact is None) == (expected.build is None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "com.acme:churn",
        "com.acme:churn:1.0:extra",
        ":churn:1.0",
        "com.acme::1.0",
        "com.acme:churn:",
        "com/acme:churn:1.0",
        "com.acme:../churn:1.0",
        "com..acme:churn:1.0",
        "com.acme:churn:1.0/../..",
        "com.acme:Churn:1.0",
        "com.acme:churn_eu:1.0",
        "com.acme:churn--eu:1.0",
        "com.acme :churn:1.0",
        "com.acme:churn:1.0\n",
        "com.acme:churn:1.0\r\nX-Injected: 1",
        "com.acme:churn:1.0;rm -rf /",
        "com.acme:chu\u0433n:1.0",  # Cyrillic look-alike
        "com.acme:churn:latest.release",
        "com.acme:churn:1.0.+",
        "com.acme:churn:01.0",
        "com.acme:churn:-1.0",
        "com.acme:churn:1.0.0.0",
        ".acme:churn:1.0",
        "com.acme.:churn:1.0",
        "com.acme:churn:1.0.9999999999",
    ],
)
def test_bad_deploy_coordinates_are_refused_quoting_the_input(text: str) -> None:
    with pytest.raises(InvalidCoordinate) as err:
        DeployTarget.parse(text)
    assert repr(text) in str(err.value)
    assert "expected" in str(err.value)


@pytest.mark.parametrize(
    "text",
    ["com.acme:churn", "com.acme:churn:1.0", "com.acme:churn:1.0.x", "com.acme:churn:1.0.3 ", "a:b:c:d"],
)
def test_exact_coordinate_requires_three_part_version(text: str) -> None:
    with pytest.raises(InvalidCoordinate, match="Invalid coordinate"):
        Coordinate.parse(text)


def test_parse_request_splits_module_and_selector() -> None:
    module, selector = parse_request("com.acme:churn:[1.0,2.0)")
    assert module == Module("com.acme", "churn")
    assert selector.select(["1.0.0", "1.9.3", "2.0.0"]) == Version(1, 9, 3)


def test_parse_request_reports_bad_selector_with_the_whole_input() -> None:
    with pytest.raises(InvalidCoordinate) as err:
        parse_request("com.acme:churn:1.1+")
    assert "'com.acme:churn:1.1+'" in str(err.value)
    assert "1.1.+" in str(err.value)


def test_invalid_coordinate_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Module.parse("nope")
