"""Serve a release on its twin: ``registry serve com.acme:churn:latest.release --engine onnx``. No JVM, no Spark.

:class:`OnnxEngine` is the engine of :mod:`registry.serving` (same routes, payloads, limits and errors as the Spark
engine of :mod:`registry.spark.serve`) over :class:`registry.portable.run.Twin`. Requests are type-checked against
the card's input schema before they are queued, exactly as for Spark; a batch is one onnxruntime call. Records a
twin refuses (an unseen category under ``handleInvalid='error'``) fail only their own request, with a 422 that
names the column and the value.

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
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from registry.coordinates import Coordinate, parse_request
from registry.exceptions import (
    ArtifactNotFound,
    AuthenticationFailed,
    InvalidInput,
    InvalidModel,
    RegistryError,
    RepositoryUnavailable,
)
from registry.modelcard import ModelCard
from registry.payload import BadRequest, Signature
from registry.portable.fetch import fetch_twin
from registry.portable.layout import twin_path
from registry.portable.run import Twin
from registry.serving import Answer, Limits, MicroBatcher, Served, create_app
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

    def score(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[list[float]] | None]:
        columns = {c.name: [row.get(c.name) for row in rows] for c in self.twin.inputs}
        outputs = self.twin.run(columns)
        predictions = [float(v) for v in outputs[self.prediction].reshape(-1).tolist()]
        if not self.has_probability:
            return predictions, None
        assert self.signature.probability is not None
        return predictions, [[float(p) for p in row] for row in outputs[self.signature.probability].tolist()]

    def warm_up(self, rows: Sequence[Mapping[str, Any]] | None) -> None:
        usable = rows if rows and all(c.name in rows[0] for c in self.twin.inputs) else None
        made_up = {c.name: _MADE_UP.get(c.type, 0.0) for c in self.signature.inputs}
        self.score(usable or [made_up])


class OnnxEngine:
    """The build serving now on its twin, and the thread that reloads newer builds (see the module docstring)."""

    def __init__(
        self,
        spec: str,
        *,
        repository: str | None = None,
        settings: Settings | None = None,
        reload: float | None = None,
    ) -> None:
        self._spec, self._repository = spec, repository
        self._settings = settings or Settings.load()
        self._module, self._selector = parse_request(spec)
        self._reload = reload
        self._loaded = self._load(self._select())
        self._served = self._serving(self._loaded)
        self._last_rows: Sequence[Mapping[str, Any]] | None = None
        self._failed: set[Coordinate] = set()
        try:
            self._loaded.warm_up(None)
        except RegistryError as exc:  # made-up values may be refused (an unseen category); real ones will tell
            log.warning("%s did not answer a warm-up request with made-up values: %s", self._loaded.coordinate, exc)
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        if reload is not None and self._selector.exact is None:
            self._poller = threading.Thread(target=self._poll, args=(reload,), name="registry-reload", daemon=True)
            self._poller.start()

    @property
    def current(self) -> Served:
        return self._served

    def _serving(self, loaded: _Loaded) -> Served:
        summary = {**loaded.summary, "selector": self._spec, "reload": self._reload}
        return Served(loaded.coordinate, loaded.signature, summary)

    def _select(self) -> Coordinate:
        with using_repository(self._repository, self._settings) as (repo, _):
            return select_version(self._module, self._selector, repo)

    def _load(self, coordinate: Coordinate) -> _Loaded:
        fetched = fetch_twin(coordinate, repository=self._repository, settings=self._settings)
        with using_repository(self._repository, self._settings) as (repo, active):
            card = fetch_card(repo, coordinate, cache=Cache(active.cache_dir))
        twin = Twin(fetched.data, coordinate=str(coordinate), name=fetched.file_name)
        return _Loaded(coordinate, twin, card)

    def reload_once(self) -> Coordinate | None:
        """Check for a newer build and switch to it once it answers; the coordinate switched to, else ``None``."""
        serving = self._loaded.resolved
        try:
            newest = self._select()
        except RegistryError as exc:
            log.warning("Cannot check for a newer build of %s: %s", self._module, exc)
            return None
        if newest.version <= serving.version or newest in self._failed:
            return None
        log.info("Loading the twin of %s (serving %s)", newest, serving)
        try:
            loaded = self._load(newest)
            loaded.warm_up(self._last_rows)
        except (RepositoryUnavailable, AuthenticationFailed) as exc:  # the repository, not the build: try again
            log.warning("Cannot fetch %s, will try again; still serving %s: %s", newest, serving, exc)
            return None
        except ArtifactNotFound as exc:
            self._failed.add(newest)
            log.error("%s has no twin to serve on onnxruntime; still serving %s: %s", newest, serving, exc)
            return None
        except Exception as exc:
            self._failed.add(newest)
            log.error("%s failed to load or to answer; still serving %s: %s", newest, serving, exc)
            return None
        self._loaded = loaded
        self._served = self._serving(loaded)
        log.info("Now serving %s on its twin (was %s)", newest, serving)
        return newest

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.reload_once()
            except Exception:  # the poller must outlive any surprise
                log.exception("Reloading failed; still serving %s", self._served.coordinate)

    def score(self, requests: Sequence[Sequence[Mapping[str, Any]]]) -> list[Answer | BadRequest]:
        """Score every request's records in one onnxruntime call; if the twin refuses them, each request alone."""
        loaded = self._loaded  # one build for the whole batch
        rows = [row for request in requests for row in request]
        try:
            predictions, probabilities = loaded.score(rows)
        except InvalidInput as exc:
            if len(requests) == 1:
                return [BadRequest(f"The model cannot score these records: {exc}", status=422)]
            return [answer for request in requests for answer in self.score([request])]
        self._last_rows = requests[-1][:1]
        answers: list[Answer | BadRequest] = []
        start = 0
        for request in requests:
            end = start + len(request)
            chunk = probabilities[start:end] if probabilities is not None else None
            answers.append(Answer(loaded.coordinate, predictions[start:end], chunk))
            start = end
        return answers

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=30)


#: How ``--workers`` hands each uvicorn worker process what to serve (:func:`app_from_environment` reads it).
WORKER_CONFIG = "REGISTRY_TWIN_SERVER"


def _app(engine: OnnxEngine, limits: Limits) -> Any:
    """The ASGI app over ``engine``; its batcher's and reload thread's are daemon threads, ended with the process."""
    batcher: MicroBatcher[Mapping[str, Any], Answer] = MicroBatcher(
        engine.score, max_rows=limits.max_rows, max_wait=limits.max_wait, max_queue=limits.max_queue
    )
    return create_app(engine, batcher, limits)


def app_from_environment() -> Any:
    """The app of one ``--workers`` process: its own verified twin, onnxruntime session, batcher and reload thread
    (uvicorn's factory, in each worker it starts)."""
    config = json.loads(os.environ[WORKER_CONFIG])
    engine = OnnxEngine(
        config["spec"], repository=config["repository"], settings=Settings.load(), reload=config["reload"]
    )
    return _app(engine, Limits(**config["limits"]))


def serve(
    spec: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    reload: float | None = None,
    repository: str | None = None,
    settings: Settings | None = None,
    limits: Limits | None = None,
    access_log: bool = False,
    workers: int = 1,
) -> None:
    """Serve ``spec`` on its twin over HTTP until interrupted (the routes of :mod:`registry.serving`).

    :param workers: server processes on the one port (uvicorn's workers), each loading the twin itself (and
        reloading newer builds itself); with no JVM to share, they scale with the cores.
    :raises ArtifactNotFound: the release has no twin. :raises IntegrityError, SignatureError: the twin fails its
        verification.
    """
    import uvicorn

    if reload is not None and reload <= 0:
        raise InvalidInput(f"--reload must be a positive number of seconds, not {reload}.")
    limits = limits or Limits()
    if workers > 1:
        fetch_twin(spec, repository=repository, settings=settings)  # a twin that fails fails here, once, clearly
        os.environ[WORKER_CONFIG] = json.dumps(
            {"spec": spec, "repository": repository, "reload": reload, "limits": dataclasses.asdict(limits)}
        )
        log.info("Serving %s on its ONNX twin on http://%s:%d with %d workers", spec, host, port, workers)
        uvicorn.run(
            f"{__name__}:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            log_level="info",
            timeout_graceful_shutdown=10,
        )
        return
    engine = OnnxEngine(spec, repository=repository, settings=settings, reload=reload)
    app = _app(engine, limits)
    log.info("Serving %s on its ONNX twin on http://%s:%d", engine.current.coordinate, host, port)
    config = uvicorn.Config(
        app, host=host, port=port, access_log=access_log, log_level="info", timeout_graceful_shutdown=10
    )
    try:
        uvicorn.Server(config).run()
    finally:
        engine.close()
