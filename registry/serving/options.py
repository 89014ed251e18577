"""What ``registry serve`` is asked, whatever the engine: :class:`Limits` on a request and a batch, and
:class:`ServeOptions` (the release, where it comes from, how often to look for a newer build, the HTTP side)."""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.exceptions import InvalidInput
from registry.settings import Settings

__all__ = ["Limits", "ServeOptions"]


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
