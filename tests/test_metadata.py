from __future__ import annotations

import datetime as dt

import pytest

from registry.coordinates import Module
from registry.exceptions import IntegrityError
from registry.metadata import Metadata
from registry.versions import Version

CHURN = Module("com.acme", "churn")

MAVEN_WRITTEN = b"""<?xml version="1.0" encoding="UTF-8"?>
<metadata modelVersion="1.1.0" xmlns="http://maven.apache.org/METADATA/1.1.0">
  <groupId>com.acme</groupId>
  <artifactId>churn</artifactId>
  <versioning>
    <latest>2.0-rc1</latest>
    <release>2.0-rc1</release>
    <versions>
      <version>1.0.0</version>
      <version>2.0-rc1</version>
      <version>1.0.10</version>
      <version>1.0.9</version>
      <version>1.1-SNAPSHOT</version>
    </versions>
    <lastUpdated>20250101000000</lastUpdated>
  </versioning>
</metadata>
"""


def test_reads_versions_other_tools_wrote_and_keeps_them() -> None:
    metadata = Metadata.parse(MAVEN_WRITTEN, CHURN, "test")
    assert metadata.releases == [Version(1, 0, 0), Version(1, 0, 9), Version(1, 0, 10)]
    assert metadata.foreign == ["2.0-rc1", "1.1-SNAPSHOT"]
    merged = metadata.with_versions([Version(1, 0, 11)], now=dt.datetime(2026, 1, 2, 3, 4, 5))
    assert merged.versions == ("1.0.0", "1.0.9", "1.0.10", "1.0.11", "2.0-rc1", "1.1-SNAPSHOT")
    assert merged.release == merged.latest == "1.0.11"
    assert merged.last_updated == "20260102030405"
    again = Metadata.parse(merged.render(), CHURN, "test")
    assert again == merged


def test_empty_artifact_metadata_is_written_from_scratch() -> None:
    rendered = Metadata(CHURN).with_versions([Version(1, 0, 0)]).render()
    assert b"<version>1.0.0</version>" in rendered
    assert b"<release>1.0.0</release>" in rendered


@pytest.mark.parametrize(
    "data",
    [
        b"not xml",
        b"<project/>",
        b"<metadata><groupId>com.other</groupId><artifactId>churn</artifactId></metadata>",
        b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x "boom">]><metadata>&x;</metadata>',
        b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><metadata>&x;</metadata>',
        b"<metadata>" + b" " * (17 << 20) + b"</metadata>",
    ],
    ids=["garbage", "wrong-root", "other-artifact", "entity", "external-entity", "huge"],
)
def test_unusable_metadata_is_an_integrity_error_naming_the_source(data: bytes) -> None:
    with pytest.raises(IntegrityError, match="SOURCE"):
        Metadata.parse(data, CHURN, "SOURCE")
