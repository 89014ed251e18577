from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from registry.checksums import ALGORITHMS, digest_bytes, digest_file, file_digest, parse_sidecar
from registry.exceptions import IntegrityError


def test_one_pass_gives_the_four_maven_digests(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000
    (tmp_path / "f").write_bytes(data)
    digests = digest_file(tmp_path / "f")
    assert digests == digest_bytes(data)
    for algorithm in ALGORITHMS:
        assert digests.get(algorithm) == hashlib.new(algorithm, data).hexdigest()
    assert [ext for ext, _ in digests.sidecars()] == ["md5", "sha1", "sha256", "sha512"]


def test_verify_refuses_a_mismatch_and_says_what_to_do() -> None:
    digests = digest_bytes(b"model")
    digests.verify("sha1", digests.sha1.upper(), "x")  # case does not matter
    with pytest.raises(IntegrityError, match="Checksum mismatch for x"):
        digests.verify("sha1", "0" * 40, "x")


@pytest.mark.parametrize("content", [b"abc", b"", b"zz" * 20, b"<html>not found</html>", b"0" * 39])
def test_sidecar_that_is_not_a_digest_is_refused(content: bytes) -> None:
    with pytest.raises(IntegrityError):
        parse_sidecar(content, "sha1", "x")


def test_sidecar_accepts_the_forms_tools_write() -> None:
    digest = "a" * 40
    assert parse_sidecar(digest.encode(), "sha1", "x") == digest
    assert parse_sidecar(f"{digest.upper()}  churn-1.0.0.jar\n".encode(), "sha1", "x") == digest


def test_file_digest_is_one_of_the_four(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5_000
    (tmp_path / "f").write_bytes(data)
    digests = digest_file(tmp_path / "f")
    for algorithm in ALGORITHMS:
        assert file_digest(tmp_path / "f", algorithm) == digests.get(algorithm)
    with pytest.raises(ValueError, match="unknown checksum algorithm"):
        file_digest(tmp_path / "f", "crc32")
