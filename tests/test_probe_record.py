"""What a probe found about a server, kept for the next command (registry.repository.probe_record), and the copy of
a file read back after an update (registry.repository.read_back)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from registry.repository import probe_record, read_back
from registry.repository.probe_record import ProbeRecord
from registry.repository.read_back import ReadBackCopies


def test_a_probe_record_is_kept_for_its_server_within_the_ttl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = ProbeRecord(str(tmp_path), "https://nexus.example/repository/models/")
    assert record.load() is None
    record.save({"put": "atomic", "locks": None})
    assert {k: v for k, v in (record.load() or {}).items() if k != "probed"} == {
        "put": "atomic", "locks": None, "server": "https://nexus.example/repository/models/",
    }  # fmt: skip
    assert ProbeRecord(str(tmp_path), "https://other.example/").load() is None
    assert ProbeRecord(None, "https://nexus.example/repository/models/").load() is None  # no state folder: none
    now = time.time()
    monkeypatch.setattr(probe_record.time, "time", lambda: now + probe_record.TRAITS_TTL - 1)
    assert record.load() is not None
    monkeypatch.setattr(probe_record.time, "time", lambda: now + probe_record.TRAITS_TTL + 1)
    assert record.load() is None  # stale: probed again


@pytest.mark.parametrize(
    "content", [b"{", b"[]", b'{"server": "https://nexus.example/"}', b'{"probed": 1}', b'{"server": 1, "probed": "x"}']
)
def test_a_probe_record_that_cannot_be_read_is_as_none(tmp_path: Path, content: bytes) -> None:
    record = ProbeRecord(str(tmp_path), "https://nexus.example/")
    record.save({"put": "atomic"})
    [file] = (tmp_path / "servers").iterdir()
    file.write_bytes(content)
    assert record.load() is None
    record.save({"put": "overwrites"})  # written again over it
    assert json.loads(file.read_bytes())["put"] == "overwrites"


def test_a_read_back_copy_answers_one_read_within_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    copies = ReadBackCopies()
    copies.keep("a/maven-metadata.xml", b"<metadata/>")
    assert copies.take("b/maven-metadata.xml") is None
    assert copies.take("a/maven-metadata.xml") == b"<metadata/>"
    assert copies.take("a/maven-metadata.xml") is None  # used up: the next read goes to the server
    copies.keep("a/maven-metadata.xml", b"old")
    copies.forget("a/maven-metadata.xml")
    assert copies.take("a/maven-metadata.xml") is None
    copies.keep("a/maven-metadata.xml", b"<metadata/>")
    now = time.monotonic()
    monkeypatch.setattr(read_back.time, "monotonic", lambda: now + read_back.READ_BACK_SECONDS + 0.1)
    assert copies.take("a/maven-metadata.xml") is None  # too old: the server is asked
