"""Lineage events: each deploy, promotion, approval, yank, unyank and prune as an OpenLineage ``RunEvent``.

Emitted through the ``openlineage-python`` client (the ``openlineage`` extra), configured the standard way
(``OPENLINEAGE_URL``, ``openlineage.yml`` where ``OPENLINEAGE_CONFIG`` points, in the working directory or in
``~/.openlineage/``, or ``OPENLINEAGE__...`` variables); nothing is emitted, and the client is not even imported,
when none is set. The model version is the output dataset: namespace = the repository, name =
``GROUP:ARTIFACT``, facets ``version`` (the version), ``datasetType`` (``MODEL``) and ``registry`` (ours: the
coordinate, the action, the card's metrics, who did it and what else the action recorded; schema
:data:`FACET_SCHEMA_URL`, shipped as ``registry/schemas/RegistryModelDatasetFacet.json``). The training data, where the
card records it, is an input, versioned by its fingerprint.

A ``registry score`` run (:func:`score_run`) is a run of its own: ``START`` once the model is resolved, then
``COMPLETE`` (with the rows written) or ``FAIL`` (with the error), under one run id. Its inputs are the model
version (namespace = the repository, name = ``GROUP:ARTIFACT``, its version, ``datasetType`` ``MODEL``) and the
data scored, its output the data written; a location is named as OpenLineage names files (:func:`dataset_name`).

An event never fails or holds up the operation: it is sent on a background thread, waited for at most
:data:`WAIT` seconds, and a failure (an unreachable receiver, a missing client) is logged once per process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from registry._util import actor, utc_stamp
from registry._version import __version__
from registry.coordinates import Coordinate
from registry.modelcard import ModelCard

__all__ = [
    "FACET_SCHEMA_URL",
    "PRODUCER",
    "WAIT",
    "NoRun",
    "ScoreRun",
    "configured",
    "dataset_name",
    "emit",
    "score_run",
]

log = logging.getLogger("registry.events")

#: How long an operation waits for its event to be sent, at most (seconds).
WAIT = 2.0
PRODUCER = f"https://pypi.org/project/spark-model-registry/{__version__}"
FACET_SCHEMA_URL = (
    "https://raw.githubusercontent.com/acme/spark-model-registry/main/registry/schemas/"
    "RegistryModelDatasetFacet.json#/$defs/RegistryModelDatasetFacet"
)
_said: set[str] = set()  # what was logged already: each problem once per process


def configured(env: Mapping[str, str] | None = None) -> bool:
    """Whether an OpenLineage receiver is configured (and not disabled by ``OPENLINEAGE_DISABLED=true``)."""
    env = os.environ if env is None else env
    if env.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OPENLINEAGE_URL") or any(name.startswith("OPENLINEAGE__") for name in env):
        return True
    files = [env.get("OPENLINEAGE_CONFIG"), "openlineage.yml", str(Path("~/.openlineage/openlineage.yml"))]
    return any(f and Path(f).expanduser().is_file() for f in files)


def emit(
    action: str,
    coordinate: Coordinate,
    repository: str,
    *,
    card: ModelCard | None = None,
    by: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Send the event of ``action`` on ``coordinate`` in ``repository`` where a receiver is configured; never
    raises, and waits at most :data:`WAIT` seconds."""
    if not configured():
        return
    api = _client_api()
    if api is None:
        _once("client", "OpenLineage is configured, but its client is not: pip install 'registry[openlineage]'.")
        return
    _send(api, _run_event(api, Change(action, coordinate, repository, card, by or {}, details or {})))


@dataclass(frozen=True)
class Change:
    """One action on one model version, as its event tells it: the arguments of :func:`emit`."""

    action: str
    coordinate: Coordinate
    repository: str
    card: ModelCard | None
    by: Mapping[str, str]
    details: Mapping[str, Any]


def _send(api: Any, event: Any) -> None:
    """Send ``event`` on a background thread, waiting for it at most :data:`WAIT` seconds; never raises."""

    def send() -> None:
        try:
            client = api.OpenLineageClient()
            client.emit(event)
            client.close(WAIT)
        except Exception as exc:  # an event never fails the operation
            _once("send", f"An OpenLineage event could not be sent ({type(exc).__name__}: {exc}); continuing.")

    thread = threading.Thread(target=send, name="registry-openlineage", daemon=True)
    thread.start()
    thread.join(WAIT)
    if thread.is_alive():
        _once("slow", f"The OpenLineage receiver did not answer within {WAIT:g} s; continuing without waiting.")


def dataset_name(location: str) -> tuple[str, str]:
    """The OpenLineage ``(namespace, name)`` of a file location, by its naming conventions: a local path is
    ``("file", "/abs/path")``; ``s3://B/key`` (``s3a``, ``s3n``) is ``("s3://B", "key")``, ``gs://B/key``
    ``("gs://B", "key")``; any other URL ``("SCHEME://AUTHORITY", "/path")`` (``hdfs://nn:8020``, ``abfss://...``,
    ``file://host``). User-info is never part of it (Azure's ``CONTAINER@ACCOUNT`` is no user-info)."""
    parts = urlsplit(location)
    if len(parts.scheme) <= 1:  # a path (or a Windows drive letter)
        return "file", os.path.abspath(location)
    scheme = "s3" if parts.scheme in ("s3a", "s3n") else parts.scheme.lower()
    azure = scheme in ("abfs", "abfss", "wasb", "wasbs")  # CONTAINER@ACCOUNT is the authority, no user-info
    authority = parts.netloc if azure else parts.netloc.rpartition("@")[2]
    if scheme == "file" and authority in ("", "localhost"):
        return "file", parts.path
    if scheme in ("s3", "gs"):
        return f"{scheme}://{authority}", parts.path.lstrip("/")
    return f"{scheme}://{authority}", parts.path or "/"


class ScoreRun:
    """The events of one ``registry score`` run: ``START`` when made, then :meth:`complete` or :meth:`fail`."""

    def __init__(self, api: Any, repository: str, coordinate: Coordinate, inputs: list[str], output: str) -> None:
        self._api, self._run = api, str(api.uuid())
        self._job = f"score {coordinate.module}"
        ours = _facet_class(api)(
            coordinate=str(coordinate), action="score", by=actor(), metrics={}, details={}, producer=PRODUCER
        )
        model = api.event.InputDataset(
            namespace=repository,
            name=str(coordinate.module),
            facets={**_model_facets(api, coordinate), "registry": ours},
        )
        self._inputs = [model, *(api.event.InputDataset(*dataset_name(location)) for location in inputs)]
        self._output = dataset_name(output)
        self._emit(api.event.RunState.START)

    def complete(self, rows: int) -> None:
        self._emit(self._api.event.RunState.COMPLETE, rows=rows)

    def fail(self, error: BaseException) -> None:
        message = f"{type(error).__name__}: {error}"[:2000]
        facet = self._api.error_facet(message=message, programmingLanguage="python", producer=PRODUCER)
        self._emit(self._api.event.RunState.FAIL, facets={"errorMessage": facet})

    def _emit(self, state: Any, *, rows: int | None = None, facets: Mapping[str, Any] | None = None) -> None:
        try:
            event = self._event(state, rows, facets)
        except Exception as exc:  # an event never fails the operation
            _once("build", f"An OpenLineage event could not be made ({type(exc).__name__}: {exc}); continuing.")
            return
        _send(self._api, event)

    def _event(self, state: Any, rows: int | None, facets: Mapping[str, Any] | None) -> Any:
        api = self._api
        statistics = (
            {"outputStatistics": api.statistics_facet(rowCount=rows, producer=PRODUCER)} if rows is not None else {}
        )
        output = api.event.OutputDataset(*self._output, outputFacets=statistics)
        return api.event.RunEvent(
            eventType=state,
            eventTime=utc_stamp(),
            run=api.event.Run(runId=self._run, facets=dict(facets or {})),
            job=api.event.Job(namespace="registry", name=self._job),
            producer=PRODUCER,
            inputs=self._inputs,
            outputs=[output],
        )


class NoRun:
    """What :func:`score_run` gives where no receiver is configured: nothing is built or sent."""

    def complete(self, rows: int) -> None:
        pass

    def fail(self, error: BaseException) -> None:
        pass


def score_run(repository: str, coordinate: Coordinate, inputs: list[str], output: str) -> ScoreRun | NoRun:
    """Emit the ``START`` of a score run of ``coordinate`` (from ``repository``) reading ``inputs`` and writing
    ``output``; the run's :meth:`~ScoreRun.complete` or :meth:`~ScoreRun.fail` ends it. Never raises."""
    if not configured():
        return NoRun()
    api = _client_api()
    if api is None:
        _once("client", "OpenLineage is configured, but its client is not: pip install 'registry[openlineage]'.")
        return NoRun()
    try:
        return ScoreRun(api, repository, coordinate, inputs, output)
    except Exception as exc:  # an event never fails the operation
        _once("build", f"The OpenLineage events of this run could not be made ({type(exc).__name__}: {exc}).")
        return NoRun()


def _model_facets(api: Any, coordinate: Coordinate) -> dict[str, Any]:
    """The facets that say a dataset is one model version."""
    return {
        "version": api.version_facet(datasetVersion=str(coordinate.version), producer=PRODUCER),
        "datasetType": api.type_facet(datasetType="MODEL", producer=PRODUCER),
    }


def _client_api() -> Any:
    """The parts of ``openlineage-python`` used here, or ``None`` when it is not installed."""
    try:
        import attr
        from openlineage.client import OpenLineageClient, event_v2
        from openlineage.client.facet_v2 import (
            DatasetFacet,
            dataset_type_dataset,
            dataset_version_dataset,
            error_message_run,
            output_statistics_output_dataset,
        )
        from openlineage.client.uuid import generate_new_uuid
    except ImportError:
        return None
    return SimpleNamespace(
        attr=attr,
        OpenLineageClient=OpenLineageClient,
        event=event_v2,
        DatasetFacet=DatasetFacet,
        type_facet=dataset_type_dataset.DatasetTypeDatasetFacet,
        version_facet=dataset_version_dataset.DatasetVersionDatasetFacet,
        error_facet=error_message_run.ErrorMessageRunFacet,
        statistics_facet=output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
        uuid=generate_new_uuid,
    )


def _run_event(api: Any, change: Change) -> Any:
    """The client's ``RunEvent`` of one action on one version."""
    coordinate, card = change.coordinate, change.card
    facet = _facet_class(api)
    ours = facet(
        coordinate=str(coordinate),
        action=change.action,
        by=dict(change.by),
        metrics=dict(card.metrics) if card else {},
        details=dict(change.details),
        producer=PRODUCER,
    )
    output = api.event.OutputDataset(
        namespace=change.repository,
        name=str(coordinate.module),
        facets={**_model_facets(api, coordinate), "registry": ours},
    )
    inputs = []
    data = card.training if card else None
    if data is not None and (data.source or data.fingerprint):
        versioned: dict[str, Any] = (
            {"version": api.version_facet(datasetVersion=data.fingerprint, producer=PRODUCER)}
            if data.fingerprint
            else {}
        )
        inputs.append(
            api.event.InputDataset(
                namespace="registry-training-data", name=str(data.source or data.fingerprint), facets=versioned
            )
        )
    return api.event.RunEvent(
        eventType=api.event.RunState.COMPLETE,
        eventTime=utc_stamp(),
        run=api.event.Run(runId=str(api.uuid())),
        job=api.event.Job(namespace="registry", name=f"{change.action} {coordinate.module}"),
        producer=PRODUCER,
        inputs=inputs,
        outputs=[output],
    )


_FACET: list[Any] = []


def _facet_class(api: Any) -> Any:
    """Our dataset facet, defined once the client is there (it builds on the client's base class)."""
    if _FACET:
        return _FACET[0]

    @api.attr.define
    class RegistryModelDatasetFacet(api.DatasetFacet):  # type: ignore[misc]
        """What the registry did to a model version, and the card's metrics."""

        coordinate: str
        action: str
        by: dict[str, str]
        metrics: dict[str, float]
        details: dict[str, Any]

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA_URL

    _FACET.append(RegistryModelDatasetFacet)
    return RegistryModelDatasetFacet


def _once(key: str, message: str) -> None:
    if key not in _said:
        _said.add(key)
        log.warning(message)
