"""Serve a release on its twin: ``registry serve com.acme:churn:latest.release --engine onnx``. No JVM, no Spark.

:class:`OnnxEngine` is the engine of :mod:`registry.serving` (same routes, payloads, limits and errors as the Spark
engine of :mod:`registry.spark.serve`) over :class:`registry.portable.run.Twin`. Requests are type-checked against
the card's input schema, exactly as for Spark, then scored at once on the event loop, one onnxruntime call each
(a twin answers in microseconds: no batcher thread to hand them to, see :mod:`registry.serving`); with a batch wait
(``--batch-wait``) they are batched as on Spark, a batch one onnxruntime call. Records a twin refuses (an unseen
category under ``handleInvalid='error'``) fail only their own request, with a 422 that names the column and the
value.

The twin is verified before it is loaded (checksum, and signature where the repository's policy asks:
:func:`registry.portable.fetch.fetch_twin`); a twin that fails is an error naming the file, never a fall back to
Spark.

**Reload.** With a selector and ``reload``, a newer build is fetched, verified, loaded and must answer a warm-up
request before it replaces the serving one between two batches. A newer build without a twin is logged and the
old one keeps serving (start ``--engine spark`` to serve such builds).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from registry.coordinates import Coordinate, parse_request
from registry.exceptions import ArtifactNotFound, InvalidInput, InvalidModel, RegistryError
from registry.modelcard import ModelCard
from registry.payload import Signature
from registry.portable.fetch import fetch_twin
from registry.portable.layout import twin_path
from registry.portable.run import Twin
from registry.serving import Limits, ReloadingEngine, ServeOptions, batched_app, run_server
from registry.settings import Settings, using_repository
from registry.store import Cache, fetch_card, select_version

__all__ = ["OnnxEngine", "has_twin", "serve"]

log = logging.getLogger("registry.serve")

_MADE_UP = {"string": "", "boolean": False}


def has_twin(spec: str, repository: str | None, settings: Settings) -> bool:
    """Whether the release ``spec`` selects now has a twin (``registry serve --engine auto`` decides with it)."""
    module, selector = parse_request(spec)
    with using_repository(repository, settings) as (repo, _):
        return repo.exists(twin_path(select_version(module, selector, repo)))


class _Loaded:
    """One build on its twin: the card's signature (the server's type checks) and the onnxruntime session."""

    def __init__(self, coordinate: Coordinate, twin: Twin, card: ModelCard):
        self.resolved = coordinate
        self.coordinate = str(coordinate)
        self.twin = twin
        self.signature = Signature.from_card(card.model, card.input_schema)
        missing = [c.name for c in twin.inputs if c.name not in self.signature.names]
        if missing:
            raise InvalidModel(f"The twin of {coordinate} reads {', '.join(missing)}, which its card does not list.")
        self.has_probability = self.signature.probability is not None and self.signature.probability in twin.outputs
        self.prediction = self.signature.prediction
        self.summary = {
            "inputs": [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in self.signature.inputs],
            "prediction": self.signature.prediction,
            "probability": self.signature.probability,
            "stages": [s.short_class for s in card.stages if "." not in s.path],
            "engine": "onnx",
            "portable": {k: v for k, v in (card.portable or {}).items() if k in ("format", "runtime", "parity")},
            "loaded": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "created": card.created,
            "description": card.description,
            "labels": list(card.labels),
            "metrics": dict(card.metrics),
            "training_rows": (card.training_data or {}).get("rows"),
            "previous": card.previous,
        }

    def score(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[list[float]] | None, str]:
        columns = {c.name: [row.get(c.name) for row in rows] for c in self.twin.inputs}
        outputs = self.twin.run(columns)
        predictions = [float(v) for v in outputs[self.prediction].reshape(-1).tolist()]
        if not self.has_probability:
            return predictions, None, self.coordinate
        assert self.signature.probability is not None
        probabilities = [[float(p) for p in row] for row in outputs[self.signature.probability].tolist()]
        return predictions, probabilities, self.coordinate

    def warm_up(self, rows: Sequence[Mapping[str, Any]] | None) -> None:
        usable = rows if rows and all(c.name in rows[0] for c in self.twin.inputs) else None
        made_up = {c.name: _MADE_UP.get(c.type, 0.0) for c in self.signature.inputs}
        self.score(usable or [made_up])


class OnnxEngine(ReloadingEngine[_Loaded]):
    """The build serving now on its twin, and the thread that reloads newer builds (see the module docstring)."""

    _REFUSED = (InvalidInput,)
    _WARM_UP_REFUSED = (RegistryError,)  # made-up values may be refused (an unseen category)
    _LOADING = "Loading the twin of %s (serving %s)"
    _SWITCHED = "Now serving %s on its twin (was %s)"

    def __init__(
        self,
        spec: str,
        *,
        repository: str | None = None,
        settings: Settings | None = None,
        reload: float | None = None,
    ) -> None:
        super().__init__(spec, repository=repository, settings=settings, reload=reload)

    def _failure(self, exc: BaseException) -> str:
        if isinstance(exc, ArtifactNotFound):
            return "has no twin to serve on onnxruntime"
        return "failed to load or to answer"

    def _load(self, coordinate: Coordinate) -> _Loaded:
        fetched = fetch_twin(coordinate, repository=self._repository, settings=self._settings)
        with using_repository(self._repository, self._settings) as (repo, active):
            card = fetch_card(repo, coordinate, cache=Cache(active.cache_dir))
        twin = Twin(fetched.data, coordinate=str(coordinate), name=fetched.file_name)
        return _Loaded(coordinate, twin, card)


#: How ``--workers`` hands each uvicorn worker process what to serve (:func:`app_from_environment` reads it).
WORKER_CONFIG = "REGISTRY_TWIN_SERVER"


def app_from_environment() -> Any:
    """The app of one ``--workers`` process: its own verified twin, onnxruntime session, batcher and reload thread
    (uvicorn's factory, in each worker it starts)."""
    config = json.loads(os.environ[WORKER_CONFIG])
    engine = OnnxEngine(
        config["spec"], repository=config["repository"], settings=Settings.load(), reload=config["reload"]
    )
    limits = Limits(**config["limits"])
    app, _ = batched_app(engine, limits, inline=limits.max_wait == 0)  # threads are daemons, ended with the process
    return app


def serve(options: ServeOptions, *, workers: int = 1) -> None:
    """Serve ``options.spec`` on its twin over HTTP until interrupted (the routes of :mod:`registry.serving`).

    :param workers: server processes on the one port (uvicorn's workers), each loading the twin itself (and
        reloading newer builds itself); with no JVM to share, they scale with the cores.
    :raises ArtifactNotFound: the release has no twin. :raises IntegrityError, SignatureError: the twin fails its
        verification.
    """
    import uvicorn

    spec, repository, settings, reload = options.spec, options.repository, options.settings, options.reload
    if workers > 1:
        fetch_twin(spec, repository=repository, settings=settings)  # a twin that fails fails here, once, clearly
        os.environ[WORKER_CONFIG] = json.dumps(
            {"spec": spec, "repository": repository, "reload": reload, "limits": dataclasses.asdict(options.limits)}
        )
        log.info(
            "Serving %s on its ONNX twin on http://%s:%d with %d workers", spec, options.host, options.port, workers
        )
        uvicorn.run(
            f"{__name__}:app_from_environment",
            factory=True,
            host=options.host,
            port=options.port,
            workers=workers,
            access_log=options.access_log,
            log_level="info",
            timeout_graceful_shutdown=10,
        )
        return
    engine = OnnxEngine(spec, repository=repository, settings=settings, reload=reload)
    try:
        run_server(engine, options, on=" on its ONNX twin", inline=options.limits.max_wait == 0)
    finally:
        engine.close()
