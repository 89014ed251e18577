"""Hostile jars with valid checksums, resolved end to end: the archive checks, not the checksum, must stop them.

Each jar is published as a complete, listed release with correct sidecars (as an attacker with write access to
the repository, or a broken tool, would publish it). Resolving it must fail with one clear error naming what is
wrong, write nothing outside the cache's staging directory, and leave nothing in the cache.
"""

from __future__ import annotations

import secrets
import stat
import struct
import tracemalloc
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from registry.checksums import digest_bytes
from registry.coordinates import Coordinate
from registry.exceptions import IntegrityError, InvalidModel, RegistryError
from registry.metadata import Metadata
from registry.repository.local import LocalRepository
from registry.resolve import resolve

COORDINATE = Coordinate.parse("com.acme:churn:1.0.0")
PROPERTIES = "META-INF/maven/com.acme/churn/pom.properties"
GOOD_PROPERTIES = b"groupId=com.acme\nartifactId=churn\nversion=1.0.0\n"

Entry = tuple[zipfile.ZipInfo | str, bytes]


def _info(name: str, mode: int = stat.S_IFREG | 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _jar(path: Path, entries: list[Entry], *, properties: bytes | None = GOOD_PROPERTIES) -> bytes:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we write on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as jar:
            if properties is not None:
                jar.writestr(PROPERTIES, properties)
            jar.writestr("model/metadata/part-00000", b'{"class":"org.apache.spark.ml.PipelineModel"}')
            for name, data in entries:
                jar.writestr(name, data)
    return path.read_bytes()


def _patch_sizes(data: bytes, name: str, *, compressed: int, uncompressed: int) -> bytes:
    """Rewrite the sizes the central directory declares for ``name`` (headers that lie)."""
    encoded = name.encode()
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at != -1:
        length = struct.unpack_from("<H", out, at + 28)[0]
        if bytes(out[at + 46 : at + 46 + length]) == encoded:
            struct.pack_into("<II", out, at + 20, compressed, uncompressed)
        at = out.find(b"PK\x01\x02", at + 4)
    return bytes(out)


def publish(repository: LocalRepository, jar: bytes, coordinate: Coordinate = COORDINATE) -> None:
    """A complete, listed release whose every file has correct checksums."""
    card = b'{"coordinate": "%s"}' % str(coordinate).encode()
    for path, data in ((coordinate.path("pom"), b"<project/>"), (coordinate.path("json", "model"), card)):
        repository.create(path, data)
        for algorithm, digest in digest_bytes(data).sidecars():
            repository.create(f"{path}.{algorithm}", digest)
    for algorithm, digest in digest_bytes(jar).sidecars():
        repository.create(f"{coordinate.path('jar')}.{algorithm}", digest)
    repository.create(coordinate.path("jar"), jar)
    module = coordinate.module
    repository.update(module.metadata_path, lambda _: Metadata(module).with_versions([coordinate.version]).render())


def _cases(token: str, scratch: Path) -> dict[str, tuple[Callable[[], bytes], str]]:
    jar = scratch / "hostile.jar"
    link = _info("model/link", stat.S_IFLNK | 0o777)
    escape = f"escaped-{token}"
    return {
        "dot-dot entry": (lambda: _jar(jar, [(f"model/../../{escape}", b"x")]), "would be written outside"),
        "dot-dot at the top": (lambda: _jar(jar, [(f"../{escape}", b"x")]), "would be written outside"),
        "absolute path": (lambda: _jar(jar, [(f"/tmp/{escape}", b"x")]), "would be written outside"),
        "backslashes": (lambda: _jar(jar, [(f"model\\..\\..\\{escape}", b"x")]), "would be written outside"),
        "drive letter": (lambda: _jar(jar, [(f"C:/{escape}", b"x")]), "would be written outside"),
        "dot segment aliasing another entry": (
            lambda: _jar(jar, [("model/a", b"1"), ("model/./a", b"2")]),
            "'model/./a'",
        ),
        "symbolic link": (lambda: _jar(jar, [(link, b"/etc/passwd")]), "is a symbolic link"),
        "link, then a file through it": (
            lambda: _jar(jar, [(_info("model/d", stat.S_IFLNK | 0o777), b"../.."), (f"model/d/{escape}", b"x")]),
            "is a symbolic link",
        ),
        "duplicate entries": (lambda: _jar(jar, [("model/a", b"1"), ("model/a", b"2")]), "appears twice"),
        "a file and a folder of one name": (
            lambda: _jar(jar, [("model/x", b"1"), ("model/x/y", b"2")]),
            "model/x",
        ),
        "a name too long for the file system": (lambda: _jar(jar, [("model/" + "a" * 300, b"x")]), "a" * 20),
        "zip bomb (ratio)": (lambda: _jar(jar, [("model/bomb", bytes(64 << 20))]), "zip bomb"),
        "zip bomb (declared total)": (
            lambda: _total_bomb(jar),
            "unpacks to more than",
        ),
        "an entry larger than it declares": (
            lambda: _patch_sizes(
                _jar(jar, [("model/big", b"y" * 5000)]), "model/big", compressed=_compressed_size(jar), uncompressed=10
            ),
            "damaged",
        ),
        "the POM of another artifact": (
            lambda: _jar(jar, [("META-INF/maven/com.evil/other/pom.properties", b"version=1.0.0\n")]),
            "the POM of another artifact",
        ),
        "another version's POM": (
            lambda: _jar(jar, [], properties=b"groupId=com.acme\nartifactId=churn\nversion=9.9.9\n"),
            "it says it is version '9.9.9'",
        ),
        "not a zip at all": (lambda: b"#!/bin/sh\nrm -rf ~\n" * 100, "not a valid jar"),
        "no model folder": (lambda: _jar_without_model(jar), "holds no model/ folder"),
    }


def _compressed_size(jar: Path) -> int:
    with zipfile.ZipFile(jar) as archive:
        return archive.getinfo("model/big").compress_size


def _jar_without_model(path: Path) -> bytes:
    with zipfile.ZipFile(path, "w") as jar:
        jar.writestr(PROPERTIES, GOOD_PROPERTIES)
        jar.writestr("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\n")
    return path.read_bytes()


def _total_bomb(path: Path) -> bytes:
    """Nine entries that each declare 4 GiB, at a believable ratio: 36 GiB in a jar of a few hundred bytes."""
    names = [f"model/part-{i}" for i in range(9)]
    data = _jar(path, [(name, b"") for name in names])
    for name in names:
        data = _patch_sizes(data, name, compressed=0xFFFFFFFF // 150, uncompressed=0xFFFFFFFF)
    return data


def _files(root: Path, but: Path | None = None) -> set[Path]:
    found = set(root.rglob("*")) if root.exists() else set()
    return {p for p in found if but is None or not p.is_relative_to(but)}


@pytest.mark.parametrize(
    "case",
    [
        "dot-dot entry",
        "dot-dot at the top",
        "absolute path",
        "backslashes",
        "drive letter",
        "dot segment aliasing another entry",
        "symbolic link",
        "link, then a file through it",
        "duplicate entries",
        "a file and a folder of one name",
        "a name too long for the file system",
        "zip bomb (ratio)",
        "zip bomb (declared total)",
        "an entry larger than it declares",
        "the POM of another artifact",
        "another version's POM",
        "not a zip at all",
        "no model folder",
    ],
)
def test_a_hostile_jar_with_valid_checksums_is_refused_by_resolve(
    case: str, tmp_path: Path, figures: Counter[str]
) -> None:
    token = secrets.token_hex(6)
    repository = LocalRepository(tmp_path / "repo")
    build, message = _cases(token, tmp_path)[case]
    publish(repository, build())
    cache, out = tmp_path / "cache", tmp_path / "out"
    before = _files(tmp_path, but=cache)
    with pytest.raises((IntegrityError, InvalidModel)) as caught:
        resolve("com.acme:churn:latest.release", repository=repository, cache_dir=cache, to=out)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    # Nothing was written anywhere: not beside the cache, not in the target, not where the entries pointed.
    assert _files(tmp_path, but=cache) == before
    assert [p for p in _files(cache) if p.is_file()] == []
    assert not out.exists()
    assert not Path(f"/tmp/escaped-{token}").exists() and not Path(f"/escaped-{token}").exists()
    assert not list(tmp_path.parent.glob(f"**/escaped-{token}"))
    figures["hostile jars refused by resolve"] += 1


def test_an_embedded_pom_properties_bomb_is_not_read_into_memory(tmp_path: Path) -> None:
    """pom.properties is read before the archive checks run: it must be bounded on its own."""
    jar = tmp_path / "bomb.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(PROPERTIES, "w") as entry:
            for _ in range(256):
                entry.write(bytes(1 << 20))
        archive.writestr("model/a", b"x")
    repository = LocalRepository(tmp_path / "repo")
    publish(repository, jar.read_bytes())
    tracemalloc.start()
    try:
        with pytest.raises(RegistryError, match=r"pom\.properties"):
            resolve("com.acme:churn:1.0.0", repository=repository, cache_dir=tmp_path / "cache")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{peak >> 20} MiB read for a 256 MiB pom.properties"


def test_too_many_entries_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    """The entry-count limit, lowered: a jar of 200,001 entries takes seconds to build and parse twice."""
    from registry.archive import ExtractLimits, extract_model

    jar = tmp_path / "many.jar"
    _jar(jar, [(f"model/part-{i}", b"") for i in range(20)])
    with pytest.raises(IntegrityError, match="entries is more than 10"):
        extract_model(jar, tmp_path / "out", ExtractLimits(max_entries=10))
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["many.jar"]
