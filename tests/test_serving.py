"""The HTTP side of ``registry serve`` with a stand-in engine: batching, limits and answers, without Spark."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from starlette.testclient import TestClient

from registry.payload import BadRequest, InputColumn, Signature
from registry.serving import Answer, Busy, Limits, MicroBatcher, Served, create_app

SIGNATURE = Signature((InputColumn("x", "double", nullable=False), InputColumn("y", "double")), "prediction", "p")


class Doubler:
    """Predicts 2x; refuses x == 13 (as a model refuses a value it cannot handle)."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    @property
    def current(self) -> Served:
        return Served("com.acme:churn:1.0.3", SIGNATURE, {"prediction": "prediction"})

    def score(self, requests: Sequence[Sequence[Mapping[str, Any]]]) -> list[Answer | BadRequest]:
        self.batches.append(sum(len(r) for r in requests))
        answers: list[Answer | BadRequest] = []
        for request in requests:
            if any(row["x"] == 13 for row in request):
                answers.append(BadRequest("The model cannot score these records: 13", status=422))
            else:
                answers.append(
                    Answer("com.acme:churn:1.0.3", [2 * r["x"] for r in request], [[0.5, 0.5]] * len(request))
                )
        return answers


@pytest.fixture
def engine() -> Doubler:
    return Doubler()


@pytest.fixture(params=["batched", "inline"])
def client(engine: Doubler, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """The app through a micro-batcher (Spark), and scoring inline on the event loop (the twin): the same answers."""
    batcher = MicroBatcher(engine.score, max_rows=100, max_wait=0.001, max_queue=16)
    limits = Limits(max_body=2000, max_records=10)
    with TestClient(create_app(engine, batcher if request.param == "batched" else None, limits)) as client:
        yield client
    batcher.close()


def test_batcher_puts_what_waits_into_one_batch() -> None:
    entered, release = threading.Event(), threading.Event()
    seen: list[list[Sequence[int]]] = []

    def handle(batch: list[Sequence[int]]) -> list[int | BaseException]:
        entered.set()
        release.wait(5)
        seen.append(batch)
        return [sum(items) for items in batch]

    batcher: MicroBatcher[int, int] = MicroBatcher(handle, max_rows=5, max_wait=0.0, max_queue=8)
    first = batcher.submit([1])
    assert entered.wait(5)  # the worker scores the first request alone; the next ones wait meanwhile
    rest = [batcher.submit([i, i]) for i in range(3)]
    release.set()
    assert [f.result(5) for f in (first, *rest)] == [1, 0, 2, 4]
    assert seen == [[[1]], [[0, 0], [1, 1]], [[2, 2]]]  # at most 5 rows a batch: the third request waited
    batcher.close()


def test_batcher_outlives_a_failing_batch_and_refuses_when_full() -> None:
    entered, release = threading.Event(), threading.Event()

    def handle(batch: list[Sequence[int]]) -> list[int | BaseException]:
        entered.set()
        release.wait(5)
        if batch[0][0] < 0:
            raise RuntimeError("boom")
        return [0] * len(batch)

    batcher: MicroBatcher[int, int] = MicroBatcher(handle, max_rows=1, max_wait=0.0, max_queue=1)
    failing = batcher.submit([-1])
    assert entered.wait(5)
    queued = batcher.submit([1])
    with pytest.raises(Busy, match="1 requests are already waiting"):
        batcher.submit([2])
    release.set()
    with pytest.raises(RuntimeError, match="boom"):
        failing.result(5)
    assert queued.result(5) == 0 and batcher.alive
    batcher.close()
    assert not batcher.alive


def test_predict_and_the_mlflow_route(client: TestClient) -> None:
    answer = client.post("/predict", json=[{"x": 1, "y": 2}, {"x": 3, "y": None}])
    assert answer.status_code == 200
    assert answer.json() == {
        "predictions": [2.0, 6.0],
        "probabilities": [[0.5, 0.5], [0.5, 0.5]],
        "model": "com.acme:churn:1.0.3",
    }
    split = {"dataframe_split": {"columns": ["x", "y"], "data": [[1, 2]]}}
    assert client.post("/invocations", json=split).json()["predictions"] == [2.0]
    assert client.get("/health").json() == {"status": "ok", "model": "com.acme:churn:1.0.3"}
    assert client.get("/ping").status_code == 200
    assert client.get("/model").json() == {"coordinate": "com.acme:churn:1.0.3", "prediction": "prediction"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"[{", {}, 400, "not valid JSON"),
        (b'[{"y": 1}]', {}, 400, "Record 0 has no column 'x'"),
        (b'[{"x": "a", "y": 1}]', {}, 400, "Column 'x' of record 0 is \"a\", not a number"),
        (b'[{"x": 1, "y": 1}]' + b" " * 2000, {}, 413, "at most 2000 are accepted"),
        (b'[{"x": 1, "y": 1}]', {"content-type": "text/csv"}, 415, "not JSON"),
        (b"[" + b",".join([b'{"x": 1, "y": 1}'] * 11) + b"]", {}, 413, "11 records in one request; at most 10"),
        (b'[{"x": 13, "y": 1}]', {}, 422, "cannot score these records"),
    ],
)
def test_bad_input_is_4xx_and_the_next_request_succeeds(
    client: TestClient, engine: Doubler, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    answer = client.post("/predict", content=body, headers=headers)
    assert answer.status_code == status
    assert message in answer.json()["message"]
    assert answer.json()["error_code"] in {"BAD_REQUEST", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"}
    assert client.post("/predict", json=[{"x": 1, "y": 1}]).json()["predictions"] == [2.0]
    assert engine.batches[-1] == 1
