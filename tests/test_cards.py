"""Reading cards and promotion records: verified, cached by digest, selectors resolved; and ``registry show``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cardhelpers import (
    HISTORY,
    CountingRepository,
    deploy_history,
    promotion_record,
    run_cli,
    write_promotion,
)

from registry.cards import read_card
from registry.checksums import digest_bytes, digest_file
from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidCoordinate, InvalidInput
from registry.metadata import Metadata
from registry.modelcard import ModelCard, stages
from registry.promotion import PromotionRecord as Promotion
from registry.repository.local import LocalRepository
from registry.settings import Settings
from registry.store import Cache, fetch_card, fetch_promotion, read_history
from registry.versions import Version

CHURN = Module("com.acme", "churn")


@pytest.fixture
def history(local_repo: LocalRepository, make_model: Callable[..., Path]) -> list[Coordinate]:
    return deploy_history(local_repo, make_model)


def test_a_card_is_read_verified_and_names_its_version(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    card = fetch_card(local_repo, history[3])
    assert card.coordinate == "com.acme:churn:1.1.1"
    assert card.metrics == {"auc": 0.89, "f1": 0.74, "logLoss": 0.31}
    assert card.previous == "com.acme:churn:1.1.0"
    assert card.deployed_by == {"user": "alice", "host": "trainer-1"}
    assert fetch_card(local_repo, history[2]).labels == ("candidate", "prod")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("com.acme:churn:latest.release", "2.0.0"),
        ("com.acme:churn:1.0", "1.0.1"),
        ("com.acme:churn:[1.0.1,1.1.1)", "1.1.0"),
        ("com.acme:churn:1.0.0", "1.0.0"),
    ],
)
def test_read_card_resolves_selectors(
    local_repo: LocalRepository, history: list[Coordinate], settings: Settings, spec: str, expected: str
) -> None:
    record = read_card(spec, repository=local_repo, settings=settings)
    assert str(record.coordinate.version) == expected
    assert record.card.coordinate == str(record.coordinate)


def test_a_bare_selector_needs_the_artifact(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    assert str(read_card("1.0.1", repository=local_repo, module=CHURN).coordinate) == "com.acme:churn:1.0.1"
    with pytest.raises(InvalidCoordinate, match=re.escape("'1.0.1'")):
        read_card("1.0.1", repository=local_repo)


def test_promotion_record_and_its_history(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    write_promotion(local_repo, history[2], promotion_record(history[2]))
    record = read_card("com.acme:churn:1.1.0", repository=local_repo)
    promotion = record.promotion
    assert promotion is not None
    assert (promotion.source, promotion.target, promotion.promoted_by["user"]) == ("staging", "releases", "bob")
    assert [(g.expression, g.actual, g.passed) for g in promotion.gates] == [("auc>=0.9", 0.91, True)]
    assert [(hop.source, hop.target) for hop in promotion.history] == [("staging", "releases"), ("dev", "staging")]
    assert read_card("com.acme:churn:1.0.1", repository=local_repo).promotion is None
    as_json = record.to_dict()
    assert as_json["promotion"]["previous_promotion"]["source"] == "dev"
    assert ModelCard.from_json(json.dumps(as_json).encode()) == record.card


def test_a_promotion_record_costs_one_read_where_absent_and_its_checksum_only_where_present(
    local_repo: LocalRepository, history: list[Coordinate]
) -> None:
    write_promotion(local_repo, history[2], promotion_record(history[2]))
    counting = CountingRepository(local_repo)
    assert fetch_promotion(counting, history[1]) is None
    assert counting.calls == [("read", history[1].path("json", "promotion"))]  # no existence check, no checksum
    counting.calls.clear()
    promoted = fetch_promotion(counting, history[2])
    assert promoted is not None and promoted.promoted_by["user"] == "bob"
    record = history[2].path("json", "promotion")
    assert counting.calls == [("read", record), ("read", f"{record}.sha512")]


def test_cards_are_cached_by_digest(local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path) -> None:
    counting = CountingRepository(local_repo)
    cache = tmp_path / "cache"
    first = fetch_card(counting, history[1], cache=Cache(cache))
    card_path = history[1].path("json", "model")
    assert counting.reads("-model.json") == [card_path]
    counting.calls.clear()
    assert fetch_card(counting, history[1], cache=Cache(cache)) == first
    # A release never changes: the cache's index says this repository served it verified, so no request at all.
    assert counting.calls == []
    assert len(list((cache / "cards").rglob("*-churn-1.0.1-model.json"))) == 1


def test_the_cache_never_confuses_two_repositories_with_one_coordinate(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    assert fetch_card(local_repo, history[0], cache=cache).metrics == {"auc": 0.80, "f1": 0.70}
    other = LocalRepository(tmp_path / "other")
    for name in local_repo.list(history[0].directory):
        data = local_repo.read(f"{history[0].directory}/{name}")
        other.create(f"{history[0].directory}/{name}", data.replace(b"0.8", b"0.9") if name.endswith(".json") else data)
    card = other.root / history[0].path("json", "model")
    for extension, digest in digest_file(card).sidecars():
        Path(f"{card}.{extension}").write_bytes(digest)
    counting = CountingRepository(other)
    assert fetch_card(counting, history[0], cache=cache).metrics == {"auc": 0.90, "f1": 0.70}
    assert counting.reads("-model.json") == [history[0].path("json", "model")]
    assert fetch_card(local_repo, history[0], cache=cache).metrics == {"auc": 0.80, "f1": 0.70}


def test_a_damaged_cache_entry_is_refilled_not_believed(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    fetch_card(local_repo, history[0], cache=Cache(cache))
    (entry,) = (cache / "cards").rglob("*-churn-1.0.0-model.json")
    entry.write_bytes(b'{"coordinate": "com.acme:churn:1.0.0", "tampered": true}')
    counting = CountingRepository(local_repo)
    assert fetch_card(counting, history[0], cache=Cache(cache)).metrics == {"auc": 0.80, "f1": 0.70}
    assert counting.reads("-model.json") == [history[0].path("json", "model")]
    assert b"tampered" not in entry.read_bytes()


def test_a_card_that_does_not_match_its_checksum_is_refused(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    path = local_repo.root / history[0].path("json", "model")
    path.write_bytes(path.read_bytes().replace(b"0.8", b"0.99"))
    with pytest.raises(IntegrityError, match=r"Checksum mismatch for churn-1\.0\.0-model\.json"):
        fetch_card(local_repo, history[0], cache=Cache(tmp_path / "cache"))
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_the_strongest_checksum_is_used_and_a_card_without_any_is_refused(
    local_repo: LocalRepository, history: list[Coordinate]
) -> None:
    path = local_repo.root / history[0].path("json", "model")
    for algorithm in ("sha512", "sha256"):
        Path(f"{path}.{algorithm}").unlink()
    Path(f"{path}.sha1").write_text("0" * 40)  # a wrong sha1 is caught: sha1 is now the strongest
    with pytest.raises(IntegrityError, match="sha1"):
        fetch_card(local_repo, history[0])
    for algorithm in ("sha1", "md5"):
        Path(f"{path}.{algorithm}").unlink()
    with pytest.raises(IntegrityError, match="no checksum file"):
        fetch_card(local_repo, history[0])


def test_a_card_of_another_version_is_refused(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    other = local_repo.read(history[1].path("json", "model"))
    path = history[0].path("json", "model")
    (local_repo.root / path).write_bytes(other)
    for extension, content in digest_bytes(other).sidecars():
        (local_repo.root / f"{path}.{extension}").write_bytes(content)
    with pytest.raises(IntegrityError, match=re.escape("describes 'com.acme:churn:1.0.1'")):
        fetch_card(local_repo, history[0])


def test_unreadable_cards_and_records_are_integrity_errors(
    local_repo: LocalRepository, history: list[Coordinate]
) -> None:
    path = history[0].path("json", "model")
    for data in (b"not json", b"[1, 2]", b'{"coordinate": "com.acme:churn:1.0.0"}'):
        (local_repo.root / path).write_bytes(data)
        for extension, content in digest_bytes(data).sidecars():
            (local_repo.root / f"{path}.{extension}").write_bytes(content)
        with pytest.raises(IntegrityError, match=re.escape("model card of com.acme:churn:1.0.0")):
            fetch_card(local_repo, history[0])
    write_promotion(local_repo, history[1], {"coordinate": "com.acme:churn:1.0.1"})
    with pytest.raises(IntegrityError, match="promoted_at"):
        fetch_promotion(local_repo, history[1])
    write_promotion(local_repo, history[2], promotion_record(history[3]))
    with pytest.raises(IntegrityError, match=re.escape("describes 'com.acme:churn:1.1.1'")):
        fetch_promotion(local_repo, history[2])


def test_an_unreadable_earlier_hop_ends_the_history_without_voiding_the_record() -> None:
    record = promotion_record(Coordinate.parse("com.acme:churn:1.1.0"), previous_promotion={"junk": 1})
    promotion = Promotion.from_json(json.dumps(record).encode())
    assert promotion.previous is None and promotion.history == (promotion,)
    with pytest.raises(InvalidInput):
        Promotion.from_json(b"[" * 100_000)


def test_missing_versions_and_cards(local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFound, match=re.escape("No version of com.acme:churn matches '3.0'")):
        read_card("com.acme:churn:3.0", repository=local_repo)
    with pytest.raises(ArtifactNotFound, match="has no model card"):
        read_card("com.acme:churn:9.9.9", repository=local_repo)
    # A version another tool deployed: listed, but with no card.
    local_repo.update(
        CHURN.metadata_path,
        lambda data: Metadata.parse(data or b"", CHURN, "test").with_versions([Version(0, 9, 0)]).render(),
    )
    found = read_history(CHURN, local_repo, cache=Cache(tmp_path / "cache"))
    assert [str(r.coordinate.version) for r in found.cards] == ["2.0.0", "1.1.1", "1.1.0", "1.0.1", "1.0.0"]
    assert found.without_card == (Version(0, 9, 0),)


def test_stages_are_flattened_depth_first_and_junk_is_skipped() -> None:
    model = {
        "stages": [
            {"uid": "a", "class": "x.A", "params": {"k": 1}, "defaults": ["k"]},
            {"uid": "p", "class": "org.apache.spark.ml.PipelineModel", "params": {}, "stages": [{"class": "x.B"}]},
            "junk",
            {"class": "x.C", "params": "junk"},
        ]
    }
    card = ModelCard.create("com.acme:churn:1.0", model=model)
    found = stages(card)
    assert [(s.path, s.short_class, s.uid) for s in found] == [
        ("0", "A", "a"),
        ("1", "PipelineModel", "p"),
        ("1.0", "B", None),
        ("3", "C", None),
    ]
    assert found[0].defaults == {"k"} and found[3].params == {} and found[2].label == "#1.0 B"
    assert stages(ModelCard.create("com.acme:churn:1.0", model={"stages": "junk"})) == []


def test_show_prints_the_card(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    write_promotion(local_repo, history[3], promotion_record(history[3]))
    code, out, err = run_cli("show", "com.acme:churn:1.1", "-r", str(local_repo.root))
    assert (code, err) == (0, "")
    for expected in (
        "com.acme:churn:1.1.1",
        "deeper trees, March data",
        "alice@trainer-1",
        "2024-01-18T09:30:00Z",
        "com.acme:churn:1.1.0",  # previous build
        "deadbeef",
        "git.acme.com",
        "cccc333344445555",
        "s3a://bucket/churn/2024-03",
        "Stage #2 GBTClassificationModel",
        "maxDepth",
        "GBTClassifier_a",
        "auc",
        "0.91",
        "bob@ci-7",
        "auc>=0.9",
        "passed",
        "dev -> staging",
        "tenure",
    ):
        assert expected in out, expected


def test_show_json_and_selectors(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    code, out, _ = run_cli("show", "com.acme:churn:latest.release", "-r", str(local_repo.root), "--json")
    data = json.loads(out)
    assert code == 0 and data["coordinate"] == "com.acme:churn:2.0.0" and data["promotion"] is None
    assert data["model"]["stages"][2]["params"]["regParam"] == 0.01
    assert data["description"] == HISTORY[4][1]["description"]


def test_show_prints_user_text_as_written_not_as_markup(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    from registry.deploy import deploy

    card = ModelCard.create("com.acme:churn:1.0", description="[bold red]loud[/] and [link=x]y[/link]")
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card)
    code, out, _ = run_cli("show", "com.acme:churn:1.0.0", "-r", str(local_repo.root))
    assert code == 0 and "[bold red]loud[/] and [link=x]y[/link]" in out


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["show", "com.acme:churn"], "Invalid coordinate: 'com.acme:churn'", 2),
        (["show", "com.acme:churn:1.1+"], "1.1.+", 2),
        (["show", "com.acme:churn:7.0"], "No version of com.acme:churn matches '7.0'", 1),
        (["show", "com.acme:other:latest.release"], "has no released versions", 1),
    ],
)
def test_show_errors_are_one_line(
    local_repo: LocalRepository, history: list[Coordinate], args: list[str], message: str, code: int
) -> None:
    exit_code, out, err = run_cli(*args, "-r", str(local_repo.root))
    assert exit_code == code and message in err
    assert err.startswith("registry: error: ") and err.count("\n") == 1 and "Traceback" not in out + err


def _pack(cache: Path) -> Path:
    (pack,) = (cache / "cards").rglob("pack")  # the artifact's cards, kept together by read_history
    return pack


def test_the_cards_of_a_history_are_kept_in_one_pack_and_read_without_requests(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = read_history(CHURN, local_repo, cache=Cache(cache))
    assert not list((cache / "cards").rglob("*-model.json"))  # one file, not one per version
    counting = CountingRepository(local_repo)
    assert read_history(CHURN, counting, cache=Cache(cache)) == first
    assert counting.calls == [("read", "com/acme/churn/maven-metadata.xml")]


def test_a_tampered_pack_record_is_read_again_not_believed(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = read_history(CHURN, local_repo, cache=Cache(cache))
    pack = _pack(cache)
    data = pack.read_bytes()
    pack.write_bytes(data.replace(b'"auc": 0.8,', b'"auc": 0.9,'))  # same length: the frame still parses
    counting = CountingRepository(local_repo)
    assert read_history(CHURN, counting, cache=Cache(cache)) == first
    assert counting.reads("-model.json") == [history[0].path("json", "model")]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_pack_is_ignored_then_written_again_whole(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path, damage: str
) -> None:
    cache = tmp_path / "cache"
    first = read_history(CHURN, local_repo, cache=Cache(cache))
    pack = _pack(cache)
    data = pack.read_bytes()
    pack.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"sha512 1 2\n\x00" + data)
    counting = CountingRepository(local_repo)
    assert read_history(CHURN, counting, cache=Cache(cache)) == first
    read_again = counting.reads("-model.json")
    assert read_again and (damage == "garbage") == (len(read_again) == len(history))
    counting.calls.clear()
    assert read_history(CHURN, counting, cache=Cache(cache)) == first
    assert counting.calls == [("read", "com/acme/churn/maven-metadata.xml")]
