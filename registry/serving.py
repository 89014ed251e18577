"""The HTTP side of ``registry serve``: an ASGI app (Starlette) and the micro-batcher behind it. No Spark here.

Requests are parsed and checked on the event loop (a bad one is answered 4xx at once and never reaches the
model), then queued. One worker thread takes what is queued, waits up to ``max_wait`` for more (up to
``max_rows`` records), and hands the whole batch to the engine as one call: one Spark transform for many
requests, which is what makes a Spark model fast to serve. A full queue answers 503 at once.

An engine that answers in microseconds (the ONNX twin) is served *inline* (``batcher=None``): each request is
scored on the event loop once parsed; a hop to a worker thread and back (and the GIL passed between them) would
cost more than the model.

Routes::

    POST /predict, /invocations   records -> {"predictions": [...], "probabilities": [[...], ...], "model": COORDINATE}
    GET  /health, /ping           {"status": "ok", "model": COORDINATE}
    GET  /model                   the coordinate and a summary of its card

Errors are ``{"error_code": "BAD_REQUEST", "message": "..."}`` as MLflow's scoring server writes them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry.coordinates import Coordinate, parse_request
from registry.exceptions import AuthenticationFailed, InvalidInput, RegistryError, RepositoryUnavailable
from registry.payload import BadRequest, Signature, parse_records
from registry.settings import Settings, using_repository
from registry.store import select_version

__all__ = [
    "Answer",
    "Build",
    "Busy",
    "Engine",
    "Limits",
    "MicroBatcher",
    "ReloadingEngine",
    "ServeOptions",
    "Served",
    "batched_app",
    "create_app",
    "run_server",
]

log = logging.getLogger("registry.serve")

T = TypeVar("T")
R = TypeVar("R")

_ERROR_CODES = {400: "BAD_REQUEST", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "BAD_REQUEST"}


class Busy(RegistryError):
    """The queue of requests waiting for the model is full."""


@dataclass(frozen=True)
class Limits:
    """How much one request may hold, and how requests are batched."""

    max_body: int = 4 * 1024 * 1024  # bytes
    max_records: int = 1000  # per request
    max_rows: int = 1000  # per batch (one transform)
    max_wait: float = 0.002  # seconds the worker waits for more requests once it has one
    max_queue: int = 1024  # requests waiting
    timeout: float = 60.0  # seconds a request waits for its answer


@dataclass(frozen=True)
class ServeOptions:
    """What ``registry serve`` is asked, whatever the engine: the release, where it comes from, how often to look
    for a newer build, and the HTTP side.

    :param spec: ``GROUP:ARTIFACT:SELECTOR``; with a dynamic selector and ``reload``, newer builds are picked up.
    :param reload: seconds between two reads of the repository's metadata; ``None``: never.
    :raises InvalidInput: ``reload`` is not a positive number.
    """

    spec: str
    repository: str | None = None
    settings: Settings | None = None
    reload: float | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    limits: Limits = field(default_factory=Limits)
    access_log: bool = False

    def __post_init__(self) -> None:
        if self.reload is not None and self.reload <= 0:
            raise InvalidInput(f"--reload must be a positive number of seconds, not {self.reload}.")


@dataclass(frozen=True)
class Served:
    """The model serving now."""

    coordinate: str
    signature: Signature
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """What the model said about one request's records."""

    coordinate: str
    predictions: list[Any]
    probabilities: list[list[float]] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"predictions": self.predictions}
        if self.probabilities is not None:
            body["probabilities"] = self.probabilities
        body["model"] = self.coordinate
        return body


class Engine(Protocol):
    """Scores batches: a :class:`ReloadingEngine`, for Spark (:mod:`registry.spark.serve`) and for the twin
    (:mod:`registry.portable.serve`)."""

    @property
    def current(self) -> Served:
        """The model serving now."""
        ...

    def score(self, requests: Sequence[Sequence[Mapping[str, Any]]]) -> list[Answer | BadRequest]:
        """One answer per request, all by the same model; a :class:`BadRequest` for records it cannot score."""
        ...


class Build(Protocol):
    """One loaded build of a model, as an engine scores with it (the Spark pipeline, or the twin)."""

    @property
    def resolved(self) -> Coordinate:
        """The build's coordinate, as selected."""
        ...

    @property
    def coordinate(self) -> str:
        """What answers say made them."""
        ...

    @property
    def signature(self) -> Signature: ...

    @property
    def summary(self) -> Mapping[str, Any]: ...

    def score(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[list[float]] | None, str]:
        """Predictions, probabilities (``None``: the model has none) and the coordinate that made them."""
        ...

    def warm_up(self, rows: Sequence[Mapping[str, Any]] | None) -> None:
        """Answer ``rows`` (if they fit this build's inputs), else made-up ones; raises what the model raises."""
        ...


B = TypeVar("B", bound=Build)


class ReloadingEngine(ABC, Generic[B]):
    """An :class:`Engine` over the build a selector picks, and the thread that reloads newer builds.

    With a selector (``latest.release``, ``1.2``) and ``reload``, a thread reads the repository's metadata every
    ``reload`` seconds; a newer build is loaded and must answer a warm-up request (the last records a client sent,
    else made-up ones) before it replaces the serving one, in one assignment between two batches: no request is
    dropped or failed. A build that fails to load or to answer is logged, skipped, and the old one keeps serving.
    A batch the build refuses is scored again request by request: only the requests that fail alone get the error.

    Subclasses load builds (:meth:`_load`) and say which errors are the records' fault (:attr:`_REFUSED`).
    """

    #: What scoring a batch may raise that is the records' fault (answered 422, request by request).
    _REFUSED: ClassVar[tuple[type[Exception], ...]] = (Exception,)
    #: What a warm-up with made-up values may raise without failing the start.
    _WARM_UP_REFUSED: ClassVar[tuple[type[Exception], ...]] = (Exception,)
    _LOADING: ClassVar[str] = "Loading %s (serving %s)"
    _SWITCHED: ClassVar[str] = "Now serving %s (was %s)"

    def __init__(self, spec: str, *, repository: str | None, settings: Settings | None, reload: float | None) -> None:
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
        except self._WARM_UP_REFUSED as exc:  # made-up values may be refused (an unseen label); real ones will tell
            what = self._explain(exc)
            log.warning("%s did not answer a warm-up request with made-up values: %s", self._loaded.coordinate, what)
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        if reload is not None and self._selector.exact is None:
            self._poller = threading.Thread(target=self._poll, args=(reload,), name="registry-reload", daemon=True)
            self._poller.start()
        elif reload is not None:
            log.info("%s is an exact version: there is nothing newer to reload.", spec)

    @abstractmethod
    def _load(self, coordinate: Coordinate) -> B:
        """The build ``coordinate`` names, loaded and verified (on the reload thread too)."""

    def _explain(self, exc: BaseException) -> str:
        """``exc`` in one line, for a log or an answer."""
        return str(exc)

    def _failure(self, exc: BaseException) -> str:
        """Why a newer build is skipped, after the coordinate in a log line."""
        return "failed to load or to answer, and will not be tried again"

    @property
    def current(self) -> Served:
        return self._served

    def _serving(self, loaded: B) -> Served:
        summary = {**loaded.summary, "selector": self._spec, "reload": self._reload}
        return Served(loaded.coordinate, loaded.signature, summary)

    def _select(self) -> Coordinate:
        with using_repository(self._repository, self._settings) as (repo, _):
            return select_version(self._module, self._selector, repo)

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
        log.info(self._LOADING, newest, serving)
        try:
            loaded = self._load(newest)
            loaded.warm_up(self._last_rows)
        except (RepositoryUnavailable, AuthenticationFailed) as exc:  # the repository, not the build: try again
            log.warning("Cannot fetch %s, will try again; still serving %s: %s", newest, serving, exc)
            return None
        except Exception as exc:
            self._failed.add(newest)
            log.error("%s %s; still serving %s: %s", newest, self._failure(exc), serving, self._explain(exc))
            return None
        self._loaded = loaded  # the next batch is scored by the new build; a batch in flight ends on the old one
        self._served = self._serving(loaded)
        log.info(self._SWITCHED, newest, serving)
        return newest

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.reload_once()
            except Exception:  # the poller must outlive any surprise
                log.exception("Reloading failed; still serving %s", self._served.coordinate)

    def score(self, requests: Sequence[Sequence[Mapping[str, Any]]]) -> list[Answer | BadRequest]:
        """Score every request's records in one call of the build; if it refuses them, each request alone."""
        loaded = self._loaded  # one build for the whole batch
        rows = [row for request in requests for row in request]
        try:
            predictions, probabilities, coordinate = loaded.score(rows)
        except self._REFUSED as exc:
            if len(requests) == 1:
                return [BadRequest(f"The model cannot score these records: {self._explain(exc)}", status=422)]
            return [answer for request in requests for answer in self.score([request])]
        self._last_rows = requests[-1][:1]
        answers: list[Answer | BadRequest] = []
        start = 0
        for request in requests:
            end = start + len(request)
            chunk = probabilities[start:end] if probabilities is not None else None
            answers.append(Answer(coordinate, predictions[start:end], chunk))
            start = end
        return answers

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=30)


@dataclass
class _Pending(Generic[T, R]):
    items: Sequence[T]
    future: concurrent.futures.Future[R] = field(default_factory=concurrent.futures.Future)


_STOP: Any = object()


class MicroBatcher(Generic[T, R]):
    """A bounded queue and one worker thread that hands ``handle`` whole batches of requests.

    ``handle`` gets the requests' item lists and returns one result per request (an exception instance is set on
    that request's future); if it raises, every request of the batch gets that exception.
    """

    def __init__(
        self,
        handle: Callable[[list[Sequence[T]]], Sequence[R | BaseException]],
        *,
        max_rows: int,
        max_wait: float,
        max_queue: int,
        name: str = "registry-batcher",
    ) -> None:
        self._handle = handle
        self._max_rows = max_rows
        self._max_wait = max_wait
        self._queue: queue.Queue[_Pending[T, R]] = queue.Queue(max_queue)
        self._carried: _Pending[T, R] | None = None
        self.batches = 0  # batches handled
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, items: Sequence[T]) -> concurrent.futures.Future[R]:
        """Queue one request; :class:`Busy` when the queue is full."""
        pending: _Pending[T, R] = _Pending(items)
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            raise Busy(f"{self._queue.maxsize} requests are already waiting; retry shortly.") from None
        return pending.future

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop the worker."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _next_batch(self) -> tuple[list[_Pending[T, R]], bool]:
        """A batch (the first request blocks; then up to ``max_wait`` for more), and whether to stop after it."""
        first = self._carried or self._queue.get()
        self._carried = None
        if first is _STOP:
            return [], True
        batch, rows = [first], len(first.items)
        deadline = time.monotonic() + self._max_wait
        while rows < self._max_rows:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is _STOP:
                return batch, True
            if rows + len(item.items) > self._max_rows:
                self._carried = item
                break
            batch.append(item)
            rows += len(item.items)
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._next_batch()
            # A request whose client went away was cancelled: it is not scored.
            live = [p for p in batch if p.future.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                results: Sequence[R | BaseException] = self._handle([p.items for p in live])
                if len(results) != len(live):
                    raise RuntimeError(f"{len(results)} results for {len(live)} requests")
            except Exception as exc:  # the worker must outlive any batch
                log.exception("Scoring a batch of %d requests failed", len(live))
                results = [exc] * len(live)
            self.batches += 1
            for pending, result in zip(live, results, strict=True):
                if isinstance(result, BaseException):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error_code": _ERROR_CODES.get(status, "ERROR"), "message": message}, status_code=status)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"The body is {declared} bytes; at most {limit} are accepted.", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadRequest(f"The body is over {limit} bytes, the most accepted.", status=413)
    return bytes(body)


def create_app(
    engine: Engine, batcher: MicroBatcher[Mapping[str, Any], Answer] | None, limits: Limits | None = None
) -> Starlette:
    """The ASGI app serving ``engine`` through ``batcher``, or inline on the event loop (``batcher=None``)."""
    limits = limits or Limits()

    async def answer_of(records: Sequence[Mapping[str, Any]]) -> Answer:
        if batcher is None:
            (answer,) = engine.score([records])
            if isinstance(answer, BaseException):
                raise answer
            return answer
        return await asyncio.wait_for(asyncio.wrap_future(batcher.submit(records)), limits.timeout)

    async def predict(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if content_type and "json" not in content_type.lower():
            return _error(415, f"Content-Type {content_type!r} is not JSON; send application/json.")
        try:
            body = await _body(request, limits.max_body)
            records = parse_records(body, engine.current.signature, max_records=limits.max_records)
            answer = await answer_of(records)
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        except Busy as exc:
            return JSONResponse(
                {"error_code": "TEMPORARILY_UNAVAILABLE", "message": str(exc)},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        except asyncio.TimeoutError:
            return _error(504, f"No answer from the model within {limits.timeout:g} s.")
        except Exception:
            log.exception("A request failed")
            return _error(500, "The model failed to score these records; the server log has the details.")
        return JSONResponse(answer.to_json())

    async def health(request: Request) -> Response:
        served = engine.current
        if batcher is not None and not batcher.alive:
            return JSONResponse({"status": "down", "model": served.coordinate}, status_code=503)
        return JSONResponse({"status": "ok", "model": served.coordinate})

    async def model(request: Request) -> Response:
        served = engine.current
        return JSONResponse({"coordinate": served.coordinate, **served.summary})

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/invocations", predict, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/ping", health, methods=["GET"]),
            Route("/model", model, methods=["GET"]),
        ]
    )


def batched_app(
    engine: Engine, limits: Limits, *, inline: bool = False
) -> tuple[Starlette, MicroBatcher[Mapping[str, Any], Answer] | None]:
    """The ASGI app over ``engine``, and the micro-batcher (its worker thread started) that feeds it, or none
    (``inline``: each request scored on the event loop)."""
    if inline:
        return create_app(engine, None, limits), None
    batcher: MicroBatcher[Mapping[str, Any], Answer] = MicroBatcher(
        engine.score, max_rows=limits.max_rows, max_wait=limits.max_wait, max_queue=limits.max_queue
    )
    return create_app(engine, batcher, limits), batcher


def run_server(engine: Engine, options: ServeOptions, *, on: str = "", inline: bool = False) -> None:
    """Serve ``engine`` as ``options`` say under uvicorn until interrupted, then finish the batches queued.

    :param on: what the log line says it is served on, after the coordinate (``" on its ONNX twin"``).
    :param inline: score each request on the event loop, no batcher (:func:`batched_app`).
    """
    import uvicorn

    app, batcher = batched_app(engine, options.limits, inline=inline)
    log.info("Serving %s%s on http://%s:%d", engine.current.coordinate, on, options.host, options.port)
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        access_log=options.access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        if batcher is not None:
            batcher.close()
