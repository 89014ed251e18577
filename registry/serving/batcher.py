"""The micro-batcher: requests queued by the app, handed to the model a whole batch at a time by one worker
thread (one Spark transform for many requests). No web framework here."""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from registry.exceptions import RegistryError

__all__ = ["Busy", "MicroBatcher"]

log = logging.getLogger("registry.serve")

T = TypeVar("T")
R = TypeVar("R")


class Busy(RegistryError):
    """The queue of requests waiting for the model is full."""


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
