"""A jar's large stored entries written out while it downloads (:mod:`registry.store.unzipping`), and used by the
extraction only where the verified jar's own directory agrees (:func:`registry.archive.extract_model`'s ``ready``);
a resolve through a real local repository takes that path and keeps nothing of it in its entry."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from registry.archive import extract_model, pack
from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.repository.local import LocalRepository
from registry.store import Cache, fill_model
from registry.store.unzipping import StreamedEntries

COORD = Coordinate.parse("com.acme:churn:1.0.0")
DATA = "stages/0_lr/data/part-00000.snappy.parquet"


@pytest.fixture
def big_model(make_model: Callable[..., Path]) -> Path:
    model = make_model()
    (model / DATA).write_bytes(os.urandom(3 << 20))  # stored (parquet), large enough to stream
    (model / "stages/0_lr/data/weights.json").write_text('{"w": 0.5}' * 50_000)  # deflated: extracted after
    return model


def _fed(jar: bytes, folder: Path, block: int) -> StreamedEntries:
    folder.mkdir()
    streamed = StreamedEntries(folder)
    for at in range(0, len(jar), block):
        streamed.feed(jar[at : at + block])
    streamed.stop()
    return streamed


@pytest.mark.parametrize("block", [7, 65_539, 1 << 20])
def test_the_large_stored_entries_are_written_out_whatever_the_blocks(
    big_model: Path, tmp_path: Path, block: int
) -> None:
    jar = tmp_path / "churn.jar"
    pack(big_model, jar, COORD, b"<project/>", b"{}")
    streamed = _fed(jar.read_bytes(), tmp_path / "streamed", block)
    with zipfile.ZipFile(jar) as archive:
        offsets = {info.filename: info.header_offset for info in archive.infolist()}
    assert list(streamed.entries) == [offsets[f"model/{DATA}"]]  # not the deflated one, not the small ones
    name, size, file = streamed.entries[offsets[f"model/{DATA}"]]
    assert (name, size) == (f"model/{DATA}", 3 << 20)
    assert file.read_bytes() == (big_model / DATA).read_bytes()


def test_a_jar_it_cannot_follow_streams_nothing(tmp_path: Path) -> None:
    data = os.urandom(1 << 20)
    described = io.BytesIO()  # written to a stream that cannot seek: sizes after the data (a data descriptor)
    with zipfile.ZipFile(_Unseekable(described), "w") as archive, archive.open("model/a.parquet", "w") as entry:
        entry.write(data)
    with zipfile.ZipFile(io.BytesIO(described.getvalue())) as archive:
        assert archive.infolist()[0].flag_bits & 0x08
    assert _fed(described.getvalue(), tmp_path / "described", 4096).entries == {}
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("model/a.parquet", data)
    assert len(_fed(plain.getvalue(), tmp_path / "plain", 4096).entries) == 1
    assert _fed(b"#!/bin/sh\n" + plain.getvalue(), tmp_path / "prefixed", 4096).entries == {}
    cut = _fed(plain.getvalue()[: 1 << 19], tmp_path / "cut", 4096)  # stopped midway: the entry is forgotten
    assert cut.entries == {}


class _Unseekable(io.RawIOBase):
    def __init__(self, sink: io.BytesIO) -> None:
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self.sink.write(data)


def test_a_written_out_entry_is_used_only_where_the_directory_agrees(big_model: Path, tmp_path: Path) -> None:
    jar = tmp_path / "churn.jar"
    pack(big_model, jar, COORD, b"<project/>", b"{}")
    [(at, (name, size, _))] = _fed(jar.read_bytes(), tmp_path / "streamed", 1 << 16).entries.items()
    wrong = tmp_path / "wrong"
    for number, ready in enumerate(
        [{at: (name + "x", size, wrong)}, {at: (name, size - 1, wrong)}, {at + 1: (name, size, wrong)}]
    ):
        wrong.write_bytes(b"not the model")
        out = extract_model(jar, tmp_path / f"out{number}", verified=True, ready=ready)
        assert (out / DATA).read_bytes() == (big_model / DATA).read_bytes()
        assert wrong.exists()  # not taken
    right = tmp_path / "streamed" / "0"
    out = extract_model(jar, tmp_path / "out", verified=True, ready={at: (name, size, right)})
    assert (out / DATA).read_bytes() == (big_model / DATA).read_bytes()
    assert not right.exists()  # renamed into place: its bytes are not written twice


def test_a_resolve_streams_and_its_entry_keeps_nothing_of_it(
    local_repo: LocalRepository, big_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = deploy(big_model, "com.acme:churn:1.0", repository=local_repo)
    copied: list[str] = []
    import registry.archive

    real = registry.archive._copy_stored
    monkeypatch.setattr(registry.archive, "_copy_stored", lambda *a: copied.append(a[1].filename) or real(*a))
    entry = fill_model(Cache(tmp_path / "cache"), local_repo, release, lambda jar, folder, sig: None, str)
    assert (entry / "model" / DATA).read_bytes() == (big_model / DATA).read_bytes()
    assert f"model/{DATA}" not in copied  # written while the jar arrived, not copied after
    assert sorted(p.name for p in entry.iterdir()) == ["churn-1.0.0.jar", "model", "model.json"]
