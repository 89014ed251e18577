"""What a repository records about versions, read for a whole artifact at once (:mod:`registry.store.records`):
cards and promotion records on the same threads, at a known cost, and a damaged record refused where it counts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from cardhelpers import CountingRepository, deploy_history, promotion_record, write_promotion, write_promotion_alone

from registry.checksums import digest_bytes
from registry.coordinates import Coordinate, Module
from registry.exceptions import IntegrityError
from registry.promotion import PromotionLog
from registry.repository.base import Repository
from registry.repository.local import LocalRepository
from registry.store import Cache, publish, read_history
from registry.versions import Version

CHURN = Module("com.acme", "churn")


@pytest.fixture
def history(local_repo: LocalRepository, make_model: Callable[..., Path]) -> list[Coordinate]:
    return deploy_history(local_repo, make_model)


def test_a_cold_history_costs_a_card_and_its_checksum_per_version_and_reads_only_the_records_the_log_names(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    write_promotion(local_repo, history[1], promotion_record(history[1]))  # and names 1.0.1 in the promotion log
    counting = CountingRepository(local_repo)
    read = read_history(CHURN, counting, cache=Cache(tmp_path / "cold"), promotions=True)
    assert [str(r.coordinate.version) for r in read.cards] == ["2.0.0", "1.1.1", "1.1.0", "1.0.1", "1.0.0"]
    assert [r.promotion is not None for r in read.cards] == [False, False, False, True, False]
    assert len(counting.reads("-model.json")) + len(counting.reads("-model.json.sha512")) == 10
    assert counting.reads("-promotion.json") == [history[1].path("json", "promotion")]
    assert len(counting.reads("-promotion.json.sha512")) == 1
    counting.calls.clear()
    again = read_history(CHURN, counting, cache=Cache(tmp_path / "cold"), promotions=True)
    # the records the log does not name are not remembered absent: the log is read again (read ahead over HTTP)
    assert again == read and counting.calls == [("read", CHURN.metadata_path), ("read", PromotionLog.path(CHURN))]


def test_without_a_promotion_log_a_cold_history_asks_every_version_for_its_record(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    # An artifact written before the log existed: every record is asked for (one read per absent record), and
    # every promotion is shown.
    local_repo.delete(PromotionLog.path(CHURN))
    write_promotion_alone(local_repo, history[1], promotion_record(history[1]))
    write_promotion_alone(local_repo, history[3], promotion_record(history[3]))
    counting = CountingRepository(local_repo)
    read = read_history(CHURN, counting, cache=Cache(tmp_path / "cold"), promotions=True)
    assert [r.promotion is not None for r in read.cards] == [False, True, False, True, False]
    assert len(counting.reads("-promotion.json")) == 5 and len(counting.reads("-promotion.json.sha512")) == 2


def test_a_damaged_record_is_refused_where_the_version_has_a_card_and_ignored_where_it_has_none(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    without_card = CHURN.at(Version.parse("3.0.0"))  # deployed by another tool: listed, no card
    publish(local_repo, CHURN, [without_card.version])
    damaged = json.dumps(promotion_record(without_card)).encode()
    local_repo.create(f"{without_card.path('json', 'promotion')}.sha512", digest_bytes(b"other").sha512.encode())
    local_repo.create(without_card.path("json", "promotion"), damaged)
    read = read_history(CHURN, local_repo, cache=Cache(tmp_path / "a"), promotions=True)
    assert read.without_card == (without_card.version,)
    write_promotion(local_repo, history[0], b'{"coordinate": "com.acme:churn:1.0.0", "schema": 1}')  # no record
    with pytest.raises(IntegrityError, match=re.escape("The promotion record of com.acme:churn:1.0.0")):
        read_history(CHURN, local_repo, cache=Cache(tmp_path / "b"), promotions=True)


class Batching(CountingRepository):
    """Records each :meth:`read_files` batch, as a repository that asks many files at once (HTTP/2) serves it."""

    def __init__(self, inner: Repository) -> None:
        super().__init__(inner)
        self.batches: list[list[str]] = []

    def read_files(self, paths: Sequence[str]) -> list[bytes | None]:
        self.batches.append(list(paths))
        return [self.inner.read(path) if self.inner.exists(path) else None for path in paths]


def test_the_promotion_records_of_an_artifact_are_asked_in_one_batch_beside_the_cards(
    local_repo: LocalRepository, history: list[Coordinate], tmp_path: Path
) -> None:
    # Without a promotion log, a catalog asks every version's record: one batch of requests (streams of one
    # connection over HTTP/2), not a read a thread; the checksum is asked only of the records there (1 of 5 here),
    # in a second batch.
    local_repo.delete(PromotionLog.path(CHURN))
    write_promotion_alone(local_repo, history[1], promotion_record(history[1]))
    batching = Batching(local_repo)
    read = read_history(CHURN, batching, cache=Cache(tmp_path / "cache"), promotions=True)
    assert [r.promotion is not None for r in read.cards] == [False, False, False, True, False]
    records = sorted(c.path("json", "promotion") for c in history)
    assert sorted(sorted(batch) for batch in batching.batches) == sorted(
        [
            sorted(path for c in history for path in (c.path("json", "model"), c.path("json", "model") + ".sha512")),
            records,
            [history[1].path("json", "promotion") + ".sha512"],
        ]
    )
    assert batching.reads("-promotion.json") == []  # none read one by one
