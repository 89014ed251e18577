from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from registry.archive import CARD_ENTRY, ExtractLimits, check_embedded_pom, extract_model, pack, read_entry
from registry.checksums import digest_bytes
from registry.coordinates import Coordinate
from registry.exceptions import IntegrityError, InvalidModel

COORD = Coordinate.parse("com.acme:churn:1.0.3")


def _pack(model: Path, coordinate: Coordinate = COORD) -> bytes:
    out = model.parent / f"{model.name}.jar"
    digests = pack(model, out, coordinate, b"<project/>", b'{"coordinate": "x"}')
    data = out.read_bytes()
    out.unlink()
    assert digests == digest_bytes(data)
    return data


def test_same_directory_packs_to_identical_bytes(make_model: Callable[..., Path], tmp_path: Path) -> None:
    model = make_model()
    first = _pack(model)
    # Different timestamps, permissions and creation order must not change a byte.
    for path in model.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    (model / "metadata" / "part-00000").chmod(0o600)
    copy = tmp_path / "copy"
    for path in sorted(model.rglob("*"), reverse=True):
        target = copy / path.relative_to(model)
        if path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    assert _pack(model) == first
    assert _pack(copy) == first


def test_jar_layout_is_what_maven_and_java_expect(make_model: Callable[..., Path]) -> None:
    with zipfile.ZipFile(io.BytesIO(_pack(make_model()))) as jar:
        names = jar.namelist()
        assert names[:2] == ["META-INF/", "META-INF/MANIFEST.MF"]
        assert "META-INF/maven/com.acme/churn/pom.xml" in names
        assert jar.read("META-INF/maven/com.acme/churn/pom.properties").decode().splitlines() == [
            "groupId=com.acme",
            "artifactId=churn",
            "version=1.0.3",
        ]
        assert CARD_ENTRY in names
        assert "model/stages/0_lr/data/part-00000.snappy.parquet" in names
        assert all("\\" not in n for n in names)
        assert {i.date_time for i in jar.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_pack_refuses_links_and_empty_directories(tmp_path: Path, make_model: Callable[..., Path]) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidModel, match="empty"):
        _pack(tmp_path / "empty")
    with pytest.raises(InvalidModel, match="not a directory"):
        _pack(tmp_path / "missing")
    model = make_model()
    (model / "link").symlink_to("/etc/passwd")
    with pytest.raises(InvalidModel, match="symbolic link"):
        _pack(model)


def test_extract_round_trips_the_model(make_model: Callable[..., Path], tmp_path: Path) -> None:
    model = make_model()
    jar = tmp_path / "m.jar"
    jar.write_bytes(_pack(model))
    out = extract_model(jar, tmp_path / "out")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(
        p.relative_to(model).as_posix() for p in model.rglob("*")
    )
    assert (out / "stages/0_lr/data/part-00000.snappy.parquet").read_bytes() == (
        model / "stages/0_lr/data/part-00000.snappy.parquet"
    ).read_bytes()
    assert read_entry(jar, CARD_ENTRY) == b'{"coordinate": "x"}'
    check_embedded_pom(jar, COORD)


@pytest.mark.parametrize("verified", [False, True])
def test_a_verified_jar_extracts_to_the_same_files(
    make_model: Callable[..., Path], tmp_path: Path, verified: bool
) -> None:
    """A jar verified against its digest has its stored entries copied by the kernel: the same bytes, also where
    the jar does not begin at the file's first byte (zip's offsets are relative to the archive)."""
    model = make_model()
    (model / "stages/0_lr/data/part-00000.snappy.parquet").write_bytes(os.urandom(3 << 20))  # stored
    (model / "stages/0_lr/data/coefficients.json").write_text('{"w": [0.5]}' * 1000)  # deflated
    data = _pack(model)
    for offset, prefix in enumerate((b"", b"#!/bin/sh\nexit 0\n")):
        jar = tmp_path / f"m{offset}.jar"
        jar.write_bytes(prefix + data)
        out = extract_model(jar, tmp_path / f"out{offset}", verified=verified)
        files = sorted(p.relative_to(model) for p in model.rglob("*") if p.is_file())
        assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == files
        for name in files:
            assert (out / name).read_bytes() == (model / name).read_bytes(), name


@pytest.mark.parametrize("verified", [False, True])
def test_a_stored_entry_named_otherwise_in_its_local_header_is_refused(tmp_path: Path, verified: bool) -> None:
    jar = tmp_path / "hostile.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("model/metadata/part-00000", b"{}")
        archive.writestr("model/data.parquet", b"PAR1" * 1000)
    data = jar.read_bytes()
    jar.write_bytes(data.replace(b"model/data.parquet", b"model/evil.parquet", 1))  # the local header only
    with pytest.raises(IntegrityError, match=r"differ|named otherwise"):
        extract_model(jar, tmp_path / "out", verified=verified)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == [jar.name]


def test_extract_refuses_to_overwrite_a_non_empty_directory(make_model: Callable[..., Path], tmp_path: Path) -> None:
    jar = tmp_path / "m.jar"
    jar.write_bytes(_pack(make_model()))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious").write_text("keep")
    with pytest.raises(InvalidModel, match="not an empty directory"):
        extract_model(jar, tmp_path / "out")
    assert (tmp_path / "out" / "precious").read_text() == "keep"


def _hostile(tmp_path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    jar = tmp_path / "hostile.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return jar


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ([("model/../../evil.txt", b"x")], "outside"),
        ([("model/a/../../../evil.txt", b"x")], "outside"),
        ([("/tmp/evil.txt", b"x")], "outside"),
        ([("model/..\\..\\evil.txt", b"x")], "outside"),
        ([("C:/evil.txt", b"x")], "outside"),
        ([(_symlink("model/link"), b"/etc/passwd")], "symbolic link"),
        ([("model/a", b"1"), ("model/a", b"2")], "twice"),
        ([("model/zeros", b"\0" * (64 << 20))], "zip bomb"),
        ([("other/file", b"x")], "no model/ folder"),
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "absolute",
        "backslash",
        "drive",
        "symlink",
        "duplicate",
        "bomb",
        "not-a-model",
    ],
)
def test_hostile_jars_are_refused_before_anything_is_written(
    tmp_path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]], reason: str
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we write on purpose
        jar = _hostile(tmp_path, entries)
    out = tmp_path / "deep" / "out"
    with pytest.raises(IntegrityError, match=reason):
        extract_model(jar, out)
    assert not out.exists()
    assert not (tmp_path / "evil.txt").exists()
    deep = tmp_path / "deep"
    assert not deep.exists() or list(deep.iterdir()) == []  # no staging directory left behind


def test_total_size_limit(tmp_path: Path) -> None:
    jar = _hostile(tmp_path, [("model/a", b"x" * 1000), ("model/b", b"y" * 1000)])
    with pytest.raises(IntegrityError, match="more than 1500 bytes"):
        extract_model(jar, tmp_path / "out", ExtractLimits(max_total_bytes=1500))


def test_embedded_pom_of_another_coordinate_is_refused(make_model: Callable[..., Path], tmp_path: Path) -> None:
    jar = tmp_path / "m.jar"
    jar.write_bytes(_pack(make_model(), Coordinate.parse("com.acme:churn:1.0.4")))
    with pytest.raises(IntegrityError, match=r"version '1\.0\.4'"):
        check_embedded_pom(jar, COORD)
    jar.write_bytes(_pack(make_model(), Coordinate.parse("com.evil:churn:1.0.3")))
    with pytest.raises(IntegrityError, match="another artifact"):
        check_embedded_pom(jar, COORD)


def test_pack_tells_which_bytes_are_final_as_it_writes_and_packs_the_same_jar(tmp_path: Path) -> None:
    # Three stored entries of 6 MiB and a deflated one: what on_final reports is on disk already, never changes
    # afterwards, and covers all but the end of the jar before pack returns; the jar is byte for byte the same.
    model = tmp_path / "model"
    (model / "metadata").mkdir(parents=True)
    (model / "metadata" / "part-00000").write_bytes(b'{"class":"x"}\n' * 150_000)
    for index in range(3):
        (model / f"data-{index}.parquet").write_bytes(os.urandom(6 << 20))
    plain, streamed = tmp_path / "plain.jar", tmp_path / "streamed.jar"
    expected = pack(model, plain, COORD, b"<project/>", b"{}")
    seen: list[tuple[int, bytes]] = []
    finished: list[int] = []

    class Reader:  # another reader of the file, as an upload of its parts is
        def final(self, start: int, end: int) -> None:
            assert not finished
            with streamed.open("rb") as file:
                file.seek(start)
                seen.append((start, file.read(end - start)))
                assert len(seen[-1][1]) == end - start, "reported before it was flushed"

        def finish(self) -> None:
            finished.append(streamed.stat().st_size)

    assert pack(model, streamed, COORD, b"<project/>", b"{}", written=Reader()) == expected
    data = streamed.read_bytes()
    assert data == plain.read_bytes()
    assert finished == [len(data)]
    assert all(data[start : start + len(block)] == block for start, block in seen)
    assert sum(len(block) for _, block in seen) == len(data)  # every byte reported final, once
