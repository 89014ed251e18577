"""The cache of verified files (:mod:`registry.store.cache`): small files and packs believed only while they match
their digest, an index of what each repository served that outlives the process, absent records, and notes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from registry.coordinates import Coordinate
from registry.store import ABSENT, Cache

CARD = Coordinate.parse("com.acme:churn:1.0.0")
OTHER = Coordinate.parse("com.acme:churn:1.0.1")
NAME = "churn-1.0.0-model.json"
ORIGIN = "https://repo.example/maven/"


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def test_a_kept_file_is_read_back_by_its_digest_only(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.keep(CARD, NAME, "sha512", sha512(b"card"), b"card")
    assert Cache(tmp_path).read(CARD, NAME, "sha512", sha512(b"card")) == b"card"
    assert Cache(tmp_path).read(CARD, NAME, "sha512", sha512(b"another card")) is None


def test_a_corrupted_entry_is_not_believed(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.keep(CARD, NAME, "sha512", sha512(b"card"), b"card")
    Path(cache.small_file(CARD, NAME, "sha512", sha512(b"card"))).write_bytes(b"cart")  # a bit flipped on disk
    assert Cache(tmp_path).read(CARD, NAME, "sha512", sha512(b"card")) is None


def test_files_kept_packed_share_one_file_per_artifact_and_are_read_back(tmp_path: Path) -> None:
    files = [
        (c, c.file_name("json", "model"), "sha512", sha512(str(c).encode()), str(c).encode()) for c in (CARD, OTHER)
    ]
    Cache(tmp_path).keep_packed(files)
    assert [p.name for p in (tmp_path / "cards").rglob("*") if p.is_file()] == ["pack"]
    again = Cache(tmp_path)
    for coordinate, name, algorithm, digest, data in files:
        assert again.read(coordinate, name, algorithm, digest, packed=True) == data


def test_a_pack_damaged_at_its_end_is_believed_up_to_the_damage_then_written_again_whole(tmp_path: Path) -> None:
    Cache(tmp_path).keep_packed([(CARD, NAME, "sha512", sha512(b"first"), b"first")])
    (pack,) = (tmp_path / "cards").rglob("pack")
    with pack.open("ab") as file:
        file.write(b"churn-1.0.1-model.json sha512 abc 999\ntorn")  # a write cut short
    cache = Cache(tmp_path)
    assert cache.read(CARD, NAME, "sha512", sha512(b"first"), packed=True) == b"first"
    second = OTHER.file_name("json", "model")
    cache.keep_packed([(OTHER, second, "sha512", sha512(b"second"), b"second")])
    assert b"torn" not in pack.read_bytes()
    again = Cache(tmp_path)
    assert again.read(CARD, NAME, "sha512", sha512(b"first"), packed=True) == b"first"
    assert again.read(OTHER, second, "sha512", sha512(b"second"), packed=True) == b"second"


def test_a_tampered_pack_record_is_not_believed(tmp_path: Path) -> None:
    Cache(tmp_path).keep_packed([(CARD, NAME, "sha512", sha512(b"first"), b"first")])
    (pack,) = (tmp_path / "cards").rglob("pack")
    pack.write_bytes(pack.read_bytes().replace(b"first", b"fir5t"))
    assert Cache(tmp_path).read(CARD, NAME, "sha512", sha512(b"first"), packed=True) is None


def test_the_index_remembers_what_each_repository_served_across_processes(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.remember(ORIGIN, CARD, NAME, "sha512", "ab" * 64)
    cache.remember(ORIGIN, CARD, "churn-1.0.0-promotion.json", *ABSENT)
    again = Cache(tmp_path)
    assert again.served(ORIGIN, CARD, NAME) == ("sha512", "ab" * 64)
    assert again.served(ORIGIN, CARD, "churn-1.0.0-promotion.json") == ABSENT
    assert again.served("https://elsewhere.example/maven/", CARD, NAME) is None  # another repository: unknown
    assert again.served(None, CARD, NAME) is None  # a repository that cannot be told apart: nothing indexed


def test_the_last_line_about_a_file_wins_and_a_line_that_does_not_parse_is_ignored(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.remember(ORIGIN, CARD, NAME, "sha512", "ab" * 64)
    (index,) = (tmp_path / "served").rglob("index")
    with index.open("a") as file:
        file.write("garbage\nchurn-1.0.0-model.json md4 cd\nchurn-1.0.0-model.json sha1 not/hex\n")
    assert Cache(tmp_path).served(ORIGIN, CARD, NAME) == ("sha512", "ab" * 64)
    cache.remember(ORIGIN, CARD, NAME, "sha256", "cd" * 32)
    assert Cache(tmp_path).served(ORIGIN, CARD, NAME) == ("sha256", "cd" * 32)


def test_a_model_entry_counts_only_once_extracted(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    assert cache.model(ORIGIN, CARD) is None
    cache.remember(ORIGIN, CARD, CARD.file_name("jar"), "sha512", "ab" * 64)
    assert cache.model(ORIGIN, CARD) is None  # indexed, but no model/ in its entry
    entry = cache.entry(CARD, "sha512", "ab" * 64)
    (entry / "model").mkdir(parents=True)
    assert Cache(tmp_path).model(ORIGIN, CARD) == entry


def test_a_note_about_a_cached_file_outlives_the_process_and_its_absence_is_told(tmp_path: Path) -> None:
    Cache(tmp_path).note(CARD, NAME, "sha512", "ab" * 64).write_bytes(b'{"signed": "by alice"}')
    assert Cache(tmp_path).note(CARD, NAME, "sha512", "ab" * 64).read_bytes() == b'{"signed": "by alice"}'
    with pytest.raises(FileNotFoundError):
        Cache(tmp_path).note(CARD, NAME, "sha512", "cd" * 64).read_bytes()  # a note about other bytes


def test_notes_held_together_are_read_back_at_once_and_written_in_one_append_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A catalog notes the check of every card: one write per artifact at the end, not a thousand.
    cache = Cache(tmp_path)
    writes: list[bytes] = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: writes.append(bytes(data)) or real_write(fd, data))
    digests = [f"{n:02x}" * 64 for n in range(5)]
    with cache.notes_together():
        for digest in digests:
            cache.note(CARD, NAME, "sha512", digest).write_bytes(digest[:8].encode())
        assert cache.note(CARD, NAME, "sha512", digests[3]).read_bytes() == digests[3][:8].encode()
        assert writes == []
        assert not list(tmp_path.rglob("notes"))
    assert len(writes) == 1
    for digest in digests:  # and another process reads them
        assert Cache(tmp_path).note(CARD, NAME, "sha512", digest).read_bytes() == digest[:8].encode()
    cache.note(CARD, NAME, "sha512", "ff" * 64).write_bytes(b"later")  # outside: at once, as ever
    assert len(writes) == 2 and Cache(tmp_path).note(CARD, NAME, "sha512", "ff" * 64).read_bytes() == b"later"
