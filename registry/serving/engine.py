"""What scores the requests: the :class:`Engine` the app serves, and :class:`ReloadingEngine`, the selecting,
reloading and batch splitting that the Spark engine and the twin's share (they say only how a :class:`Build` is
loaded). No web framework here."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from registry.coordinates import Coordinate, parse_request
from registry.exceptions import AuthenticationFailed, RegistryError, RepositoryUnavailable
from registry.payload import BadRequest, Signature
from registry.settings import Settings, using_repository
from registry.store import select_version

__all__ = ["Answer", "Build", "Engine", "ReloadingEngine", "Served"]

log = logging.getLogger("registry.serve")


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
