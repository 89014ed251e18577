from __future__ import annotations

from xml.etree import ElementTree as ET

from registry.coordinates import Coordinate
from registry.pom import render_pom

NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def test_pom_is_a_dependency_free_jar_pom_for_the_coordinate() -> None:
    pom = ET.fromstring(render_pom(Coordinate.parse("com.acme:churn:1.2.7"), "Churn <LR> & co"))
    assert pom.findtext("m:modelVersion", namespaces=NS) == "4.0.0"
    assert pom.findtext("m:groupId", namespaces=NS) == "com.acme"
    assert pom.findtext("m:artifactId", namespaces=NS) == "churn"
    assert pom.findtext("m:version", namespaces=NS) == "1.2.7"
    assert pom.findtext("m:packaging", namespaces=NS) == "jar"
    assert pom.findtext("m:description", namespaces=NS) == "Churn <LR> & co"
    assert pom.find("m:dependencies", NS) is None


def test_properties_are_escaped_and_bad_names_dropped() -> None:
    pom = render_pom(
        Coordinate.parse("com.acme:churn:1.2.7"),
        properties={"model.metric.auc": "0.9", "bad name<": "x", "model.note": "a</x>\x00b"},
    )
    root = ET.fromstring(pom)
    props = {el.tag.split("}")[1]: el.text for el in root.iterfind("m:properties/*", NS)}
    assert props == {"model.metric.auc": "0.9", "model.note": "a</x>b"}
