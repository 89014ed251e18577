"""OpenLineage events, received by a real HTTP receiver on 127.0.0.1 and validated against pinned schemas."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import onnx
import onnx.helper as oh
import openlineage.client  # noqa: F401 - the client the events go through: installed by scripts/test, never skipped
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from registry import events
from registry.deploy import Attachment, deploy
from registry.exceptions import InvalidInput
from registry.modelcard import ModelCard
from registry.portable.score import score_twin
from registry.repository.local import LocalRepository
from registry.yank import yank

_FACET = {"type": "object", "required": ["_producer", "_schemaURL"]}
_DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {
        "namespace": {"type": "string"},
        "name": {"type": "string"},
        "facets": {"type": "object", "additionalProperties": _FACET},
    },
}
#: The parts of OpenLineage's RunEvent (spec 2-0-2, https://openlineage.io/spec/2-0-2/OpenLineage.json) that a
#: receiver such as Marquez checks, pinned here: no network in tests.
RUN_EVENT = {
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri"},
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {"runId": {"type": "string", "format": "uuid"}},
        },
        "job": {
            "type": "object",
            "required": ["namespace", "name"],
            "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}},
        },
        "inputs": {"type": "array", "items": _DATASET},
        "outputs": {"type": "array", "items": _DATASET},
    },
}
OUR_FACET = json.loads((Path(events.__file__).parent / "schemas" / "RegistryModelDatasetFacet.json").read_text())


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"path": self.path, "event": json.loads(body)})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def _client_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The client copies OPENLINEAGE_URL into OPENLINEAGE__TRANSPORT__... variables of the process: none are left."""
    for name in [n for n in os.environ if n.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(name)
    yield
    for name in [n for n in os.environ if n.startswith("OPENLINEAGE__")]:
        del os.environ[name]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []
    handler = type("Handler", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield received
    server.shutdown()
    server.server_close()


def test_deploy_and_yank_are_run_events_with_the_model_as_output(
    receiver: list[dict[str, Any]], local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    card = ModelCard.create("x", metrics={"auc": 0.91}, training_data={"source": "s3://d/t", "fingerprint": "ab" * 32})
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card)
    yank(str(coordinate), reason="leaks the label", repository=local_repo)
    assert [r["path"] for r in receiver] == ["/api/v1/lineage"] * 2
    deployed, yanked = (r["event"] for r in receiver)
    for event in (deployed, yanked):
        jsonschema.validate(event, RUN_EVENT, format_checker=jsonschema.FormatChecker())
        [output] = event["outputs"]
        assert (output["namespace"], output["name"]) == (local_repo.display, "com.acme:churn")
        assert output["facets"]["version"]["datasetVersion"] == "1.0.0"
        assert output["facets"]["datasetType"]["datasetType"] == "MODEL"
        ours = output["facets"]["registry"]
        jsonschema.validate(ours, OUR_FACET["$defs"]["RegistryModelDatasetFacet"]["allOf"][1])
        assert ours["_schemaURL"].endswith("RegistryModelDatasetFacet.json#/$defs/RegistryModelDatasetFacet")
    assert deployed["outputs"][0]["facets"]["registry"]["metrics"] == {"auc": 0.91}
    [data] = deployed["inputs"]
    assert data["name"] == "s3://d/t" and data["facets"]["version"]["datasetVersion"] == "ab" * 32
    assert yanked["outputs"][0]["facets"]["registry"]["details"] == {"reason": "leaks the label"}
    assert yanked["job"]["name"] == "yank com.acme:churn"


def test_nothing_is_emitted_without_configuration(
    receiver: list[dict[str, Any]],
    local_repo: LocalRepository,
    make_model: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENLINEAGE_URL")
    for name in [n for n in os.environ if n.startswith("OPENLINEAGE__")]:
        monkeypatch.delenv(name)

    def never(*args: object) -> None:
        raise AssertionError("an event was built without a receiver configured")

    monkeypatch.setattr(events, "_run_event", never)
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    assert receiver == []
    assert not events.configured({"OPENLINEAGE_DISABLED": "true", "OPENLINEAGE_URL": "http://x"})


def test_a_receiver_that_never_answers_neither_fails_nor_holds_up_the_operation(
    blackhole: str,
    local_repo: LocalRepository,
    make_model: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", blackhole.removesuffix("/repo/"))
    monkeypatch.setattr(events, "_said", set())
    caplog.set_level(logging.WARNING, logger="registry.events")
    started = time.monotonic()
    deploy(make_model("a"), "com.acme:churn:1.0", repository=local_repo)
    deploy(make_model("b"), "com.acme:churn:1.0", repository=local_repo)
    assert time.monotonic() - started < 2 * events.WAIT + 5  # two deploys, each waiting at most WAIT
    said = [r.getMessage() for r in caplog.records if r.name == "registry.events"]
    assert len(said) == 1 and "did not answer" in said[0]


def _twin() -> bytes:
    """A twin built by hand, no Spark: ``prediction = 2 * x``, with the metadata a converted pipeline carries."""
    x = oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 1])
    prediction = oh.make_tensor_value_info("prediction", onnx.TensorProto.FLOAT, [None, 1])
    two = oh.make_tensor("two", onnx.TensorProto.FLOAT, [1], [2.0])
    graph = oh.make_graph([oh.make_node("Mul", ["x", "two"], ["prediction"])], "twice", [x], [prediction], [two])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)])
    model.ir_version = 8
    oh.set_model_props(model, {"registry.inputs": '[{"name": "x", "type": "float"}]', "registry.watermark": "model"})
    return model.SerializeToString()


def test_a_score_on_the_twin_is_the_same_openlineage_run_as_on_spark(
    receiver: list[dict[str, Any]], local_repo: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    twin = Attachment("onnx", "onnx", _twin())
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, attachments=[twin])
    data = str(tmp_path / "in.parquet")
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0]}), data)
    out = str(tmp_path / "scored")
    receiver.clear()
    assert score_twin("com.acme:churn:1.0", data, out, repository=local_repo).rows == 3
    started, completed = (r["event"] for r in receiver)
    for event in (started, completed):
        jsonschema.validate(event, RUN_EVENT, format_checker=jsonschema.FormatChecker())
    assert (started["eventType"], completed["eventType"]) == ("START", "COMPLETE")
    assert started["run"]["runId"] == completed["run"]["runId"] and completed["job"]["name"] == "score com.acme:churn"
    model, scored = completed["inputs"]
    assert (model["namespace"], model["name"]) == (local_repo.display, "com.acme:churn")  # as its deploy named it
    assert model["facets"]["version"]["datasetVersion"] == str(coordinate.version)
    assert model["facets"]["datasetType"]["datasetType"] == "MODEL"
    assert model["facets"]["registry"]["coordinate"] == str(coordinate)
    assert (scored["namespace"], scored["name"]) == ("file", data)
    [output] = completed["outputs"]
    assert (output["namespace"], output["name"]) == ("file", out)
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 3
    # A run that fails once started (a value the twin cannot read as a number) ends with FAIL, under its run id.
    receiver.clear()
    pq.write_table(pa.table({"x": ["one"]}), data)
    with pytest.raises(InvalidInput, match="Column 'x' takes numbers, not 'one'"):
        score_twin("com.acme:churn:1.0", data, str(tmp_path / "again"), repository=local_repo)
    started, failed = (r["event"] for r in receiver)
    assert (started["eventType"], failed["eventType"]) == ("START", "FAIL")
    assert started["run"]["runId"] == failed["run"]["runId"]
    assert "takes numbers, not 'one'" in failed["run"]["facets"]["errorMessage"]["message"]
