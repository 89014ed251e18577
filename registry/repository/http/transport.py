"""The transport an HTTP repository talks through (:class:`RoutingTransport`), on two routes: small reads first
through libcurl (:mod:`registry.repository.http.multiplexed_reads`; where pycurl cannot be imported, our own
HTTP/1.1 reader, :mod:`registry.repository.http.small_reads`), everything else through the ``requests`` session of
:mod:`registry.repository.http.session`, made (and ``requests`` imported, about 70 ms of a command's start) only
when something needs it.

A warm search or catalog reads one file (the metadata): where the small-read route can be set up from the
configuration alone, exactly as the session would send its requests, such a command never imports ``requests``.
That is where nothing in the environment needs ``requests``' own reading of it: no proxy variable, no ``.netrc``
where no credentials are configured, and TLS verified (with the CA bundle ``requests`` would use). Elsewhere the
session builds the route from the request it prepares. Whether the route is used at all is decided by the
configuration alone (a caller that fakes ``requests``' adapter says so: ``session_only``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from registry._util import mask_url
from registry.exceptions import RegistryError
from registry.repository.base import Source
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http.request_settings import MAX_SMALL_FILE, POOL_SIZE, Endpoint, not_found
from registry.repository.http.small_reads import SmallFileReader, tls_context
from registry.repository.read_back import ReadsAhead

if TYPE_CHECKING:
    import requests

    from registry.repository.http import session

__all__ = ["RoutingTransport", "replayed"]

log = logging.getLogger("registry.repository.http")

#: An answer of the small-read route: ``(200, content, ETag)``, ``(404, b"", None)``, or ``None`` (ask again
#: through the session).
_Answer = tuple[int, bytes, str | None]


class _SmallReads(Protocol):
    """The small-read route: :class:`~registry.repository.http.multiplexed_reads.MultiplexedReader`, or
    :class:`~registry.repository.http.small_reads.SmallFileReader` where pycurl is not installed."""

    def get(self, path: str) -> tuple[int, bytes, str | None] | None: ...

    def preconnect(self) -> None: ...

    def close(self) -> None: ...


#: Connections for small reads a deploy opens ahead of use: the previous build's card and its checksum, at once.
_SMALL_READS_AHEAD = 2


def replayed(response: requests.Response) -> bool:
    """Whether ``response`` answers a request sent again after a dropped connection: a write it refuses as taken
    may have been applied by the dropped attempt."""
    return bool(getattr(response, "registry_replayed", False))


def _needs_requests(environ: os._Environ[str] | dict[str, str], credentials: Credentials | None) -> bool:
    """Whether ``requests`` would read something of the environment into a plain GET that is not read here: a
    proxy (or, on Windows and macOS, the system's proxy settings), a ``.netrc`` where no credentials are
    configured. (Its CA bundle variables are read here: :func:`_verify`.)"""
    if sys.platform in ("win32", "darwin"):
        return True
    if any(value and name.lower().endswith("_proxy") and name.lower() != "no_proxy" for name, value in environ.items()):
        return True
    if credentials is None or not (credentials.token or credentials.username):
        home = Path(environ.get("HOME") or "~").expanduser()
        if environ.get("NETRC") or (home / ".netrc").exists() or (home / "_netrc").exists():
            return True
    return False


def _verify(config: RepositoryConfig, environ: os._Environ[str] | dict[str, str]) -> bool | str:
    """The TLS verification ``requests`` gives a plain GET: the repository's ``ca_bundle``, else the bundle named
    by ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, else its own (``True``)."""
    if config.ca_bundle:
        return str(Path(config.ca_bundle).expanduser())
    return environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or True


class RoutingTransport:
    """Requests to one repository's base URL, with credentials, timeouts, retries of reads and error mapping.

    Thread-safe for concurrent requests: small reads on one HTTP/2 connection, or up to
    :data:`~registry.repository.http.request_settings.SMALL_READ_CONNECTIONS` HTTP/1.1 ones; everything else on up
    to :data:`POOL_SIZE` kept-alive connections.
    """

    def __init__(self, endpoint: Endpoint, *, session_only: bool = False) -> None:
        """``session_only``: every request goes through the ``requests`` session (no small-read route), for a
        caller that replaces its adapter (a test faking faults)."""
        self.endpoint = endpoint
        self.config = endpoint.config
        self._session_only = session_only
        self.base = endpoint.base
        self.display = endpoint.display
        self._timeout = endpoint.timeout
        self._full: session.RequestsTransport | None = None
        self._small_reads: _SmallReads | bool | None = False  # False: not set up yet; None: not possible
        self._lock = threading.Lock()  # the session's making
        self._reader_lock = threading.Lock()  # the reader's
        self._ahead: ReadsAhead[Callable[[], _Answer | None]] = ReadsAhead()  # how to wait for each answer

    def full(self) -> session.RequestsTransport:
        """The ``requests`` transport, made on first use."""
        with self._lock:
            if self._full is None:
                from registry.repository.http import session

                self._full = session.RequestsTransport(self.endpoint)
            return self._full

    def _reader(self) -> _SmallReads | None:
        """The small-read route, set up on first use (the first of 64 concurrent reads sets it up; the others
        wait for it rather than go the slow way); ``None`` where it must not be used."""
        with self._reader_lock:
            if self._small_reads is False:
                self._small_reads = None if self._session_only else self._new_reader()
            return self._small_reads  # type: ignore[return-value]

    def _new_reader(self) -> _SmallReads | None:
        https = self.base.startswith("https:")
        headers: dict[str, str] | None = None
        verify = _verify(self.config, os.environ)
        if https and not self.config.verify_tls:
            return None  # urllib3 warns on every such request: they go its way
        if not _needs_requests(os.environ, self.endpoint.credentials):
            headers = self.endpoint.headers
        if headers is None:
            headers, verify = self.full().prepared()
            if headers is None:
                return None
        return _small_reader(self.endpoint, headers, verify)

    def close(self) -> None:
        with self._lock, self._reader_lock:
            full, reader = self._full, self._small_reads
        if full is not None:
            full.close()
        if not isinstance(reader, bool | None):
            reader.close()

    def url(self, path: str) -> str:
        return self.base + quote(path, safe="/")

    def get_small(self, path: str) -> tuple[bytes, str | None]:
        """GET a small file and its ETag: first on the small-read route, and any
        answer but the file or its absence again through the session (with one retry fewer: a server failing for
        good is asked no more often than without the reader)."""
        reader = self._reader()
        if reader is None:
            return self.full().get_small(path)
        started = time.monotonic()
        ahead = self._ahead.take(path)
        answer = ahead() if ahead is not None else reader.get(path)
        if answer is None:
            return self.full().get_small(path, spent=1)
        status, content, etag = answer
        log.debug("GET %s -> %s in %.3f s", mask_url(self.url(path)), status, time.monotonic() - started)
        if status == 404:
            raise not_found(path, self.display)
        return content, etag

    def read_ahead(self, paths: list[str]) -> None:
        """Send GETs of ``paths`` now on the small-read route (where it can send them so), each answer kept for the
        next :meth:`get_small` of its path (:class:`~registry.repository.read_back.ReadsAhead`)."""
        reader = self._reader()
        send = getattr(reader, "send", None)
        if send is None:
            return
        sent = time.monotonic()
        for path, answer in zip(paths, send(paths), strict=True):
            self._ahead.keep(path, answer, sent)

    def get_many(self, paths: list[str]) -> list[tuple[int, bytes, str | None] | None] | None:
        """The answers of the small-read route to GETs of every path at once, where it can send them so (libcurl;
        ``None`` elsewhere): ``(200, content, ETag)``, ``(404, b"", None)``, or ``None`` for a path to read again
        with :meth:`get_small`."""
        reader = self._reader()
        get_many = getattr(reader, "get_many", None)
        return None if get_many is None else list(get_many(paths))

    def get_as_ready(self, paths: list[str]) -> Iterator[list[tuple[int, _Answer | None]]] | None:
        """:meth:`get_many`, each answer handed over as soon as it has ended: lists of ``(index in paths, answer)``
        in the order they end (``None`` where the small-read route cannot send them so)."""
        reader = self._reader()
        get_as_ready = getattr(reader, "get_as_ready", None)
        return None if get_as_ready is None else get_as_ready(paths)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """See :meth:`registry.repository.http.session.RequestsTransport.request`."""
        return self.full().request(method, path, **kwargs)

    def download(self, path: str, destination: Path) -> None:
        self.full().download(path, destination)

    def put(
        self, path: str, source: Source, headers: dict[str, str], ready: Callable[[], None] | None = None
    ) -> requests.Response:
        """See :meth:`registry.repository.http.session.RequestsTransport.put`."""
        return self.full().put(path, source, headers, ready)

    def fail(self, response: requests.Response, action: str, path: str) -> RegistryError:
        return self.full().fail(response, action, path)

    def refuse_encoded(self, response: requests.Response, path: str) -> None:
        self.full().refuse_encoded(response, path)

    def preconnect(self, count: int) -> None:
        """Open up to ``count`` kept-alive connections for writes, and a few for small reads, now (best effort)."""
        full = self.full()
        full.preconnect(count)
        reader = self._reader()
        if reader is not None:
            for _ in range(_SMALL_READS_AHEAD):
                full.start_helper(reader.preconnect)

    def start_helper(self, target: Callable[..., object], *args: object) -> None:
        """See :meth:`registry.repository.http.session.RequestsTransport.start_helper`."""
        self.full().start_helper(target, *args)


def _small_reader(endpoint: Endpoint, headers: dict[str, str], verify: bool | str) -> _SmallReads | None:
    """The small-read route: libcurl's (:mod:`~registry.repository.http.multiplexed_reads`), or where pycurl is not
    installed (no wheel for this platform) the reader of our own (HTTP/1.1 only); ``None`` where neither can be set
    up (an unreadable CA bundle: the session reports it)."""
    base, config = endpoint.base, endpoint.config
    https = base.startswith("https:")
    try:
        from registry.repository.http.multiplexed_reads import MultiplexedReader, speaks_http2
    except ImportError:
        pass
    else:
        if speaks_http2() or config.http2 != "prior-knowledge":
            try:
                return MultiplexedReader(
                    endpoint, headers, verify=verify, default_bundle=_default_bundle() if https else ""
                )
            except (OSError, ValueError):
                return None
    if config.http2 == "prior-knowledge":
        return None  # a server that speaks only HTTP/2: the session is told so by its answers
    try:
        tls = tls_context(verify, _default_bundle()) if https else None
        return SmallFileReader(base, headers, timeout=endpoint.timeout, limit=MAX_SMALL_FILE, keep=POOL_SIZE, tls=tls)
    except (OSError, ValueError):  # an unreadable CA bundle: the session reports it
        return None


def _default_bundle() -> str:
    """The CA bundle ``requests`` verifies with by default: certifi's (it depends on certifi)."""
    import certifi

    return str(certifi.where())
