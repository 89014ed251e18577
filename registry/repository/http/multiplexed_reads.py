"""Plain GETs of small files through libcurl (pycurl's multi interface), all on one thread: HTTP/2 streams on one
connection where the server speaks it, HTTP/1.1 on a bounded pool of kept-alive connections otherwise.

A search or a catalog reads small files by the thousand, from up to :attr:`HttpRepository.read_width
<registry.repository.http.repository.HttpRepository.read_width>` threads at once. Each thread hands its GET to
the one thread that drives a ``CurlMulti`` and waits for the answer; that thread follows libcurl's own timeout
(``CurlMulti.timeout()``) and the sockets it names, never a fixed poll. Over HTTP/2 every request of a command
goes on one connection (libcurl's cap of 100 streams on it is raised to the server's own), so a thousand reads
take a few round trips instead of a thousand over sixty-four connections (see ARCHITECTURE.md, "Small reads").
The driving thread ends after :data:`IDLE_EXIT` seconds without reads (its connections stay open) and the next read
starts another, so a repository that is never closed keeps no thread of ours alive; the decision to end is taken
under the lock reads are queued with, so a read is run by the ending thread or by the next one, never dropped.

HTTP/2 is asked for over TLS through ALPN, as Nexus and Artifactory offer it (the server may answer HTTP/1.1),
and without TLS only where the repository says the server speaks it (``http2 = "prior-knowledge"``): an
``http://`` server that does not would answer nothing a reader can use.

The same contract as :class:`~registry.repository.http.small_reads.SmallFileReader`: only a ``200`` within the
size limit and not compressed, and a ``404``, are taken; for anything else (another status, a redirect, a
connection refused, dropped or timed out, a malformed answer, which libcurl refuses) :meth:`MultiplexedReader.get`
returns ``None`` and the caller sends the request through its full transport. No proxy (the transport does not
use this route where one is configured), no ``.netrc`` (the credentials are in the headers given), no redirects.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import pycurl

from registry.repository.http.curl_sockets import CurlSockets
from registry.repository.http.request_settings import MAX_SMALL_FILE, SMALL_READ_CONNECTIONS, Endpoint

__all__ = ["HTTP2_MODES", "IDLE_EXIT", "MultiplexedReader", "speaks_http2"]

#: The values of a repository's ``http2`` setting: ``"alpn"`` (over TLS where the server offers it, the default)
#: and ``"prior-knowledge"`` (h2c: the server speaks HTTP/2 without TLS, or with TLS without offering it).
HTTP2_MODES = ("alpn", "prior-knowledge")
#: How long the driving thread waits without reads before it ends (seconds); the next read starts another. A
#: repository that is never closed then keeps no thread of ours past its last reads.
IDLE_EXIT = 5.0
#: The longest wait of the driving thread while reads run, in milliseconds (see :meth:`MultiplexedReader._wait`).
_BUSY_WAIT = 50
#: With more reads than this running, the driving thread lets :data:`_GATHER` seconds of answers arrive after a wake-up
#: before libcurl runs: each run looks at every handle it holds, so waking it for each packet costs a thousand reads
#: at once more CPU than the reads themselves (3,000 reads at 1,000 a time: 0.33 s of CPU woken at once, 0.19 s with
#: 1 ms gathered, the same wall time).
_GATHER_FROM = 64
_GATHER = 0.001
#: A caller taking answers as they end (:meth:`MultiplexedReader.get_as_ready`) is woken by the first of them, then
#: lets :data:`_GATHER_CHUNK` seconds of answers arrive unless :data:`_CHUNK` have (or fewer are still to come): a
#: wake-up per answer or two cost the driving thread its interpreter lock a thousand times a batch.
_CHUNK = 100
_GATHER_CHUNK = 0.005
#: poll() where the platform has it (select() is limited to descriptors below 1024).
_poll = getattr(select, "poll", None)
#: Streams at once on one HTTP/2 connection (libcurl allows 100 unless told; the server may allow fewer).
_STREAMS = 1000
#: The longest 404 page read (a server's page is a few hundred bytes).
_SHORT_BODY = 64 << 10
_Answer = tuple[int, bytes, str | None]
#: The status line of an answer as HTTP spells it (libcurl also takes other spellings, and reads some wrong).
_STATUS = re.compile(rb"HTTP/(1\.[01]|2) ([0-9]{3})(?: [^\r\n]*)?\r\n\Z")
_BROKEN = -1  # a read's status: the status line was not one
_NEXT = -2  # a read's status: an interim answer (1xx) ended, the next answer's status line comes


def speaks_http2() -> bool:
    """Whether this libcurl can speak HTTP/2 (the pycurl wheels bundle nghttp2)."""
    return bool(pycurl.version_info()[4] & pycurl.VERSION_HTTP2)


class _Batch:
    """Reads asked for together: one event for their caller, set when the last has ended (counted on the driving
    thread alone); for a caller that takes each answer as it ends (``streamed``), also set as each ends, the reads
    that ended queued in ``ended``."""

    __slots__ = ("done", "ended", "remaining")

    def __init__(self, count: int, *, streamed: bool = False) -> None:
        self.remaining = count
        self.done = threading.Event()
        self.ended: deque[_Read] | None = deque() if streamed else None


class _Read:
    """One GET on its way: its handle, what arrived, and how its caller is told (its own event, or its batch's).

    Its bound methods are the handle's callbacks (no closures made per read); header fields are kept as libcurl
    hands them and looked at once the answer is complete (:meth:`field`)."""

    __slots__ = (
        "batch", "body", "done", "ended", "fields", "handle", "head_ended", "index", "limit", "local_port", "path",
        "result", "sockets", "status", "too_large",
    )  # fmt: skip

    def __init__(
        self, path: str, sockets: CurlSockets, limit: int, batch: _Batch | None = None, index: int = 0
    ) -> None:
        self.batch = batch
        self.index = index  # in its batch
        self.path = path
        self.sockets = sockets
        self.limit = limit
        self.body = bytearray()
        self.fields: list[bytes] = []  # of the final answer (an interim answer's are dropped)
        self.status = 0
        self.head_ended = False  # the empty line that ends the final answer's header fields came
        self.local_port = 0  # of the connection it went on
        self.too_large = False
        self.result: _Answer | None = None
        self.ended = False
        self.done = threading.Event() if batch is None else None  # a read of a batch: the batch's event tells
        self.handle: Any = None

    def header(self, line: bytes) -> None:
        if self.status in (0, _NEXT):  # an answer's first line (after a 100 Continue, say: another answer)
            status = _STATUS.match(line)
            self.status = int(status.group(2)) if status else _BROKEN  # libcurl reads "http/1.1 404" as 200
            if status is None or status.group(1) != b"2":
                self.sockets.http1.add(self.local_port)
            self.fields.clear()
        elif line == b"\r\n":
            self.head_ended = self.status >= 200
            self.status = _NEXT if self.status < 200 else self.status
        else:
            self.fields.append(line)

    def body_part(self, data: bytes) -> int | None:
        self.body += data
        if len(self.body) > (self.limit if self.status == 200 else _SHORT_BODY):
            self.too_large = True
            return 0  # libcurl ends the transfer: the full transport reads it (and says it is too large)
        return None

    def prerequest(self, _server: str, _local: str, server_port: int, local_port: int) -> int:
        self.local_port = local_port
        return pycurl.PREREQFUNC_OK if self.sockets.fit(local_port, server_port) else pycurl.PREREQFUNC_ABORT

    def field(self, name: bytes) -> bytes | None:
        """The value of the answer's last header field ``name`` (lower case), stripped; ``None`` if it has none."""
        found = None
        for line in self.fields:
            key, colon, value = line.partition(b":")
            if colon and key.strip().lower() == name:
                found = value.strip()
        return found


class MultiplexedReader:
    """GETs of small files of the repository ``endpoint`` names, sent by one thread through one ``CurlMulti``: up
    to ``keep`` connections (HTTP/1.1), or one carrying every request (HTTP/2). Thread-safe: :meth:`get` may be
    called from any number of threads.

    ``headers``: those of a plain GET (the endpoint's, or as the ``requests`` session prepares them); ``verify``:
    ``True`` (``default_bundle``), or the path of a CA bundle file or folder, as ``requests`` takes it.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        headers: Mapping[str, str] | None = None,
        *,
        verify: bool | str = True,
        default_bundle: str = "",
        limit: int = MAX_SMALL_FILE,
        keep: int = SMALL_READ_CONNECTIONS,
    ) -> None:
        base, http2 = endpoint.base, endpoint.config.http2
        headers = endpoint.headers if headers is None else headers
        if not base.startswith(("http://", "https://")):
            raise ValueError("an http or https URL")
        if http2 not in HTTP2_MODES:
            raise ValueError(f"http2 is one of {HTTP2_MODES}")
        for name, value in headers.items():
            if any(c in f"{name}{value}" for c in "\r\n\0"):
                raise ValueError(f"header {name[:40]!r} cannot be sent: a line break or NUL")
        self._base = base
        self._headers = [f"{name}: {value}" for name, value in headers.items()]
        self._connect_timeout, self._read_timeout = endpoint.timeout
        self._limit = limit
        https = base.startswith("https://")
        if http2 == "prior-knowledge":
            self._version = pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
        else:
            self._version = pycurl.CURL_HTTP_VERSION_2TLS if https else pycurl.CURL_HTTP_VERSION_1_1
        self._tls: dict[int, Any] = {}
        if https:
            location = default_bundle if verify is True else str(verify)
            if not location or not os.path.exists(location):
                raise ValueError("no CA bundle to verify the server with")
            self._tls[pycurl.CAPATH if os.path.isdir(location) else pycurl.CAINFO] = location
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self._multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, keep)
        self._multi.setopt(pycurl.M_MAXCONNECTS, keep)
        self._multi.setopt(pycurl.M_MAX_CONCURRENT_STREAMS, _STREAMS)
        self._sockets = CurlSockets()
        self._queue: deque[_Read] = deque()
        self._handles: list[Any] = []  # idle easy handles, reused (each keeps its settings)
        self._template: Any = None  # the handle new ones are copied from
        # Reads handed to libcurl at once (the rest wait in the queue): a stream for each the server allows on one
        # HTTP/2 connection, two for each HTTP/1.1 connection (libcurl looks at every handle it holds each time)
        self._at_once = keep * 2 if self._version == pycurl.CURL_HTTP_VERSION_1_1 else _STREAMS
        self._lock = threading.Lock()  # the driver's start and close
        self._closed = False
        self._driver: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)  # a full pipe wakes the driver already

    def get(self, path: str) -> _Answer | None:
        """``(200, content, ETag)``, ``(404, b"", None)``, or ``None``: send it through the full transport."""
        return self.send([path])[0]()

    def send(self, paths: list[str]) -> list[Callable[[], _Answer | None]]:
        """GETs of ``paths`` sent now, each answered (as by :meth:`get`) by calling what is returned for it, which
        waits for the answer."""
        reads = [_Read(path, self._sockets, self._limit) for path in paths]
        sent = self._send(reads)
        return [functools.partial(self._answer, read if sent else None) for read in reads]

    def _answer(self, read: _Read | None) -> _Answer | None:
        if read is None or not read.done.wait(self._patience()):  # type: ignore[union-attr]
            return None
        return read.result

    def get_many(self, paths: list[str]) -> list[_Answer | None]:
        """:meth:`get` of each path, all at once (the caller waits on one event, not a thread per read)."""
        if not paths:
            return []
        batch = _Batch(len(paths))
        reads = [_Read(path, self._sockets, self._limit, batch) for path in paths]
        if not self._send(reads) or not batch.done.wait(self._patience() * (1 + len(paths) // _STREAMS)):
            return [read.result if read.ended else None for read in reads]
        return [read.result for read in reads]

    def get_as_ready(self, paths: list[str]) -> Iterator[list[tuple[int, _Answer | None]]]:
        """:meth:`get_many`, each answer handed over as soon as it has ended: lists of ``(index in paths, answer)``,
        in the order the reads end, until every path has had its answer; the caller works on those while the others
        travel."""
        if not paths:
            return
        batch = _Batch(len(paths), streamed=True)
        ended: deque[_Read] = batch.ended  # type: ignore[assignment]
        reads = [_Read(path, self._sockets, self._limit, batch, index) for index, path in enumerate(paths)]
        given = bytearray(len(reads))  # answers handed over, by index
        if self._send(reads):
            deadline = time.monotonic() + self._patience() * (1 + len(paths) // _STREAMS)
            left = len(reads)
            while left:
                if not ended and not batch.done.wait(max(0.0, deadline - time.monotonic())):
                    break  # the driver died: what has not come goes through the full transport
                if len(ended) < _CHUNK < left - len(ended):  # not at the end, where the last answer is not held
                    time.sleep(_GATHER_CHUNK)  # more answers come meanwhile: fewer wake-ups, each taking the GIL
                batch.done.clear()  # before the queue is emptied: a read that ends from here on sets it again
                chunk = []
                while ended:
                    read = ended.popleft()
                    given[read.index] = 1
                    chunk.append((read.index, read.result))
                left -= len(chunk)
                if chunk:
                    yield chunk
            if not left:
                return
        yield [(read.index, None) for read in reads if not given[read.index]]

    def _patience(self) -> float:
        """How long a read is waited for: libcurl ends one within its timeouts; this guards against a driver that
        died."""
        return self._connect_timeout + 2 * self._read_timeout + 5

    def _send(self, reads: list[_Read]) -> bool:
        with self._lock:
            if self._closed:
                return False
            if self._driver is None:
                self._driver = threading.Thread(target=self._drive, name="small-reads", daemon=True)
                self._driver.start()
            self._queue.extend(reads)
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"\0")
        return True

    def preconnect(self) -> None:
        """Open a connection now, for a read to come (call it on a thread of its own); best effort. libcurl takes
        it for its next connection to the server (TLS, if any, is set up then)."""
        parts = urlsplit(self._base)
        try:
            sock = socket.create_connection(
                (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), self._connect_timeout
            )
        except OSError:
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        with self._lock:
            if not self._closed:
                self._sockets.ready.append(sock)
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            driver = self._driver
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"\0")
        if driver is not None:
            driver.join(self._connect_timeout + self._read_timeout)
        if driver is None or not driver.is_alive():
            self._multi.close()
            for handle in self._handles:
                handle.close()
            self._handles.clear()
            if self._template is not None:
                self._template.close()
            self._sockets.close()
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    # -- the driving thread -------------------------------------------------------------------------------

    def _drive(self) -> None:
        running: dict[Any, _Read] = {}
        idle_since = time.monotonic()
        idled = False  # ended after IDLE_EXIT without reads: nothing to fail, the next read starts another
        try:
            while not self._closed:
                while self._queue and len(running) < self._at_once:
                    read = self._queue.popleft()
                    read.handle = self._handle(read)
                    running[read.handle] = read
                    self._multi.add_handle(read.handle)
                while self._multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                    pass
                self._finish(running)
                if running:
                    self._wait(busy=True)
                    if len(running) > _GATHER_FROM:
                        time.sleep(_GATHER)  # let more answers arrive before libcurl looks at every handle again
                    idle_since = time.monotonic()
                    continue
                left = IDLE_EXIT - (time.monotonic() - idle_since)
                if left <= 0:
                    with self._lock:  # against _send: a read queued from here on starts another driver
                        if not self._queue and not self._closed:
                            self._driver = None
                            idled = True
                            return
                    continue
                self._wait(busy=False, limit=left)
        finally:
            if not idled:
                with self._lock:
                    self._closed = True  # ended (or failed): reads from now on go to the full transport at once
                for read in list(running.values()) + list(self._queue):
                    self._done(read)  # result None: the full transport

    def _wait(self, *, busy: bool, limit: float = -1) -> None:
        """Until a socket of libcurl's or the wake-up pipe is ready, or libcurl's timeout is due (while reads run),
        or ``limit`` seconds have passed (while none do; ``-1``: no limit).

        Waited on with ``poll``, which takes descriptors of any number. While reads run, a wait lasts at most
        :data:`_BUSY_WAIT`: ``curl_multi_fdset`` leaves out sockets numbered beyond ``FD_SETSIZE`` (1024) and names
        none while libcurl resolves a name on its own thread, so a socket it does not name is looked at again soon
        instead of when its (long) timeout is due."""
        timeout_ms = self._multi.timeout() if busy else (-1 if limit < 0 else max(1, int(limit * 1000)))
        readable, writable, failed = self._multi.fdset()
        if busy:
            timeout_ms = _BUSY_WAIT if timeout_ms < 0 else min(timeout_ms, _BUSY_WAIT)
        if _poll is None:  # no poll() on this platform: select(), for descriptors below FD_SETSIZE
            select.select([self._wake_r, *readable], writable, failed, None if timeout_ms < 0 else timeout_ms / 1000)
        else:
            poller = _poll()
            events: dict[int, int] = {self._wake_r: select.POLLIN}
            for fd in readable:
                events[fd] = events.get(fd, 0) | select.POLLIN
            for fd in writable:
                events[fd] = events.get(fd, 0) | select.POLLOUT
            for fd in failed:
                events[fd] = events.get(fd, 0) | select.POLLPRI
            for fd, mask in events.items():
                poller.register(fd, mask)
            poller.poll(None if timeout_ms < 0 else timeout_ms)
        with contextlib.suppress(BlockingIOError, OSError):
            os.read(self._wake_r, 4096)

    def _finish(self, running: dict[Any, _Read]) -> None:
        while True:
            queued, ended, failed = self._multi.info_read()
            for handle in ended:
                self._end(running.pop(handle), ok=True)
            for handle, _code, _message in failed:
                self._end(running.pop(handle), ok=False)
            if not queued:
                return

    def _end(self, read: _Read, *, ok: bool) -> None:
        handle = read.handle
        self._multi.remove_handle(handle)
        if ok and not read.too_large:
            status = handle.getinfo(pycurl.RESPONSE_CODE)
            if status != read.status or not read.head_ended:
                status = 0  # not the answer we read (a status line libcurl reads otherwise, header fields cut off)
            if status == 200 and read.field(b"content-encoding") in (None, b"", b"identity"):
                etag = read.field(b"etag")
                read.result = (200, bytes(read.body), None if etag is None else etag.decode("latin-1"))
            elif status == 404:
                read.result = (404, b"", None)
        read.body = bytearray()
        handle.setopt(pycurl.WRITEFUNCTION, _discard)
        handle.setopt(pycurl.HEADERFUNCTION, _discard)
        handle.setopt(pycurl.PREREQFUNCTION, _fit)
        self._handles.append(handle)
        self._done(read)

    @staticmethod
    def _done(read: _Read) -> None:
        read.ended = True
        if read.done is not None:
            read.done.set()
        batch = read.batch
        if batch is not None:
            batch.remaining -= 1
            if batch.ended is not None:  # its caller takes each answer as it ends
                batch.ended.append(read)
                if not batch.done.is_set():
                    batch.done.set()
            elif batch.remaining <= 0:
                batch.done.set()

    def _handle(self, read: _Read) -> Any:
        handle = self._handles.pop() if self._handles else self._new_handle()
        handle.setopt(pycurl.URL, self._base + quote(read.path, safe="/"))
        handle.setopt(pycurl.HEADERFUNCTION, read.header)
        handle.setopt(pycurl.WRITEFUNCTION, read.body_part)
        handle.setopt(pycurl.PREREQFUNCTION, read.prerequest)
        return handle

    def _new_handle(self) -> Any:
        """An easy handle with every setting but the URL and the callbacks: a copy of the first one made (libcurl
        copies the settings in one call, where setting them one by one costs a thousand handles ~0.1 s)."""
        if self._template is None:
            self._template = handle = pycurl.Curl()
            handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
            handle.setopt(pycurl.OPENSOCKETFUNCTION, self._sockets.open)
            handle.setopt(pycurl.SOCKOPTFUNCTION, self._sockets.opened)
            handle.setopt(pycurl.FOLLOWLOCATION, 0)
            handle.setopt(pycurl.NOSIGNAL, 1)
            handle.setopt(pycurl.PROXY, "")  # none (not even from the environment): the transport decided
            handle.setopt(pycurl.NOPROXY, "*")
            handle.setopt(pycurl.NETRC, pycurl.NETRC_IGNORED)
            handle.setopt(pycurl.HTTPHEADER, self._headers)
            handle.setopt(pycurl.HTTP_VERSION, self._version)
            handle.setopt(pycurl.PIPEWAIT, 1)  # wait to share the HTTP/2 connection rather than open another
            handle.setopt(pycurl.CONNECTTIMEOUT_MS, int(self._connect_timeout * 1000))
            # no byte for the read timeout: given up, as a socket read times out
            handle.setopt(pycurl.LOW_SPEED_LIMIT, 1)
            handle.setopt(pycurl.LOW_SPEED_TIME, max(1, int(self._read_timeout)))
            handle.setopt(pycurl.SSL_VERIFYPEER, 1)
            handle.setopt(pycurl.SSL_VERIFYHOST, 2)
            for option, value in self._tls.items():
                handle.setopt(option, value)
        return self._template.duphandle()


def _fit(*_: object) -> int:
    return int(pycurl.PREREQFUNC_OK)


def _discard(data: bytes) -> None:
    """A finished handle's callbacks: they no longer hold its read."""
