"""The HTTP side of ``registry serve``: an ASGI app (Starlette) and the micro-batcher behind it. No Spark here.

Requests are parsed and checked on the event loop (a bad one is answered 4xx at once and never reaches the
model), then queued. One worker thread takes what is queued, waits up to ``max_wait`` for more (up to
``max_rows`` records), and hands the whole batch to the engine as one call: one Spark transform for many
requests, which is what makes a Spark model fast to serve. A full queue answers 503 at once.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry.exceptions import RegistryError
from registry.payload import BadRequest, Signature, parse_records

__all__ = ["Answer", "Busy", "Engine", "Limits", "MicroBatcher", "Served", "create_app"]

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
    """Scores batches; the Spark side implements it (:mod:`registry.spark.serve`)."""

    @property
    def current(self) -> Served:
        """The model serving now."""
        ...

    def score(self, requests: Sequence[Sequence[Mapping[str, Any]]]) -> list[Answer | BadRequest]:
        """One answer per request, all by the same model; a :class:`BadRequest` for records it cannot score."""
        ...


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
    engine: Engine, batcher: MicroBatcher[Mapping[str, Any], Answer], limits: Limits | None = None
) -> Starlette:
    """The ASGI app serving ``engine`` through ``batcher``."""
    limits = limits or Limits()

    async def predict(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if content_type and "json" not in content_type.lower():
            return _error(415, f"Content-Type {content_type!r} is not JSON; send application/json.")
        try:
            body = await _body(request, limits.max_body)
            records = parse_records(body, engine.current.signature, max_records=limits.max_records)
            answer = await asyncio.wait_for(asyncio.wrap_future(batcher.submit(records)), limits.timeout)
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
        if not batcher.alive:
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
