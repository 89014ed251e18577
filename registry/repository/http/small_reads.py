"""Plain GETs of small files on kept-alive connections, read with a minimal HTTP/1.1 reader of our own.

A search or a catalog reads small files by the thousand (a card, its checksum, a promotion record for every
version). Sent through ``requests`` and urllib3 each costs about 0.5 ms of CPU (prepared requests, retry and
timeout objects, a response wrapper, a pool guarded by a condition variable that 64 threads queue on), and even
the standard library's ``http.client`` spends half of its 0.25 ms parsing headers with the ``email`` package.
That CPU, not the network, set the time of a catalog over 1,000 versions. Here a GET is one ``sendall`` of the
request and a few ``readline`` calls on a buffered socket, on a connection taken from a free list.

Only the two answers such reads expect are taken here, and only in their plainest form: ``200`` with a
``Content-Length`` body within the size limit and no ``Content-Encoding``, and ``404``; on HTTP/1.1 or 1.0,
headers without continuation lines, no ``Transfer-Encoding``. For anything else (another status, a redirect, a
chunked or compressed body, a connection refused, dropped or timed out, a malformed answer)
:meth:`SmallFileReader.get` returns ``None`` and the caller sends the request through its full transport, which
retries, follows redirects and reports every failure as it always has: this path never makes an error of its own.

A connection is used for another request only when its answer was all it held: bytes beyond the answer (a second
answer to one request, a body longer than its length) make the answer ``None`` and close the connection, and an
idle connection that is readable when taken (stray bytes arrived since, or the server closed it) is closed
unused, as urllib3 judges the connections of its pool. An answer read later from such a connection would belong
to no request.
"""

from __future__ import annotations

import os
import re
import select
import socket
import ssl
import threading
from collections import deque
from collections.abc import Mapping
from typing import BinaryIO
from urllib.parse import quote, urlsplit

__all__ = ["SmallFileReader", "tls_context"]

#: The longest 404 page read to keep its connection (a server's page is a few hundred bytes).
_SHORT_BODY = 64 << 10
#: The longest status or header line, and the most header lines, of an answer taken here.
_LINE = 8 << 10
_HEADERS = 100
#: The status line of a plain answer: HTTP/1.1 or 1.0, three digits, a reason without control characters, CR LF.
_STATUS = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?\r\n")
#: A header name in an answer (a token), and what no header value may hold (control characters but HTAB).
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
#: The most digits of a Content-Length taken here (far beyond any limit: a longer one is refused, not parsed).
_LENGTH_DIGITS = 12
#: A header name (RFC 9110's token), and a value we send: visible Latin-1 and inner spaces and tabs, no CR, LF, NUL.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")
#: What may be raised while sending a request or reading its answer: the connection is then closed.
_FAILURES = (OSError, ValueError)
_Answer = tuple[int, bytes, str | None]


def tls_context(verify: bool | str, default_bundle: str) -> ssl.SSLContext:
    """The verification ``requests`` would do for ``verify``: ``True`` (its CA bundle, ``default_bundle``), or the
    path of a CA bundle file or folder. :raises OSError, ssl.SSLError: the bundle cannot be read."""
    location = default_bundle if verify is True else str(verify)
    if os.path.isdir(location):
        return ssl.create_default_context(capath=location)
    return ssl.create_default_context(cafile=location)


class _Unanswered(Exception):
    """The connection ended (or was reset) before any answer: on a kept-alive one, the server closed it idle."""


#: poll() where the platform has it (select() is limited to descriptors below 1024).
_poll = getattr(select, "poll", None)

#: How a kept-alive connection the server has since closed answers a request.
_DROPPED = (_Unanswered, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class _Connection:
    """A connected socket and the buffered reader of its answers."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.answers: BinaryIO = sock.makefile("rb")

    def has_more(self, read_timeout: float) -> bool:
        """Whether bytes wait beyond the answer just read, in the reader's buffer or on the socket: the answer was
        not what it said it was (a server that answers twice, a body longer than its length), and what follows
        would be taken for the answer to the next request. Looked at without waiting."""
        self.sock.settimeout(0)
        try:
            waiting = self.answers.peek(1)  # type: ignore[attr-defined]
        except (ssl.SSLWantReadError, BlockingIOError):
            waiting = b""  # nothing yet (a TLS socket says so by raising)
        except OSError:
            return True  # reset: it cannot serve another request either
        finally:
            self.sock.settimeout(read_timeout)
        return bool(waiting)

    def readable(self) -> bool:
        """Whether the idle connection has something to read: stray bytes, or the server closed it (an end of
        file is readable). Either way it cannot carry another request, as urllib3 judges its idle connections."""
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        if _poll is None:
            return bool(select.select([self.sock], [], [], 0)[0])
        poll = _poll()
        poll.register(self.sock, select.POLLIN)
        return bool(poll.poll(0))

    def close(self) -> None:
        self.answers.close()
        self.sock.close()


def _headers(answers: BinaryIO) -> dict[bytes, bytes] | None:
    """The header fields of an answer, names in lower case; ``None`` for anything but plain fields: each line a
    token, a colon and a value without control characters, ended by CR LF (no bare LF, no space before the colon,
    no continuation line), within the size limits."""
    fields: dict[bytes, bytes] = {}
    for _ in range(_HEADERS):
        line = answers.readline(_LINE + 1)
        if line == b"\r\n":
            return fields
        if not line.endswith(b"\r\n") or len(line) > _LINE:
            return None  # cut off, too long, or a bare LF
        name, colon, value = line[:-2].partition(b":")
        if not colon or not _NAME.fullmatch(name) or _CONTROL.search(value):
            return None  # not a field, a continuation line, or a NUL, CR or other control character
        name, value = name.lower(), value.strip(b" \t")
        # A repeated field is joined, as HTTP defines it: two Content-Lengths ("2, 3") are then no length at all.
        fields[name] = value if name not in fields else fields[name] + b", " + value
    return None


class SmallFileReader:
    """GETs of small files under ``base`` with ``headers`` (the credentials among them), on up to ``keep``
    kept-alive connections reused by whichever thread reads next. Thread-safe."""

    def __init__(
        self,
        base: str,
        headers: Mapping[str, str],
        *,
        timeout: tuple[float, float],
        limit: int,
        keep: int,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._idle: deque[_Connection] = deque()  # append and pop are atomic: no lock to queue on
        self._closed = False
        self._lock = threading.Lock()  # close() against a connection coming back
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname or (parts.scheme == "https") != bool(tls):
            raise ValueError("an http URL, or an https URL with its TLS context")
        self._host, self._tls = parts.hostname, tls
        self._port = parts.port or (443 if tls else 80)
        self._prefix = parts.path
        fields = {"Host": parts.netloc, **{k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}}
        for name, value in fields.items():
            if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
                raise ValueError(f"header {name[:40]!r} cannot be sent: a line break, NUL or control character")
        if not _FIELD_VALUE.fullmatch(self._prefix) or " " in self._prefix:
            raise ValueError("the base path cannot be sent in a request line")
        self._head = "".join(f"{name}: {value}\r\n" for name, value in fields.items()).encode("latin-1") + b"\r\n"
        self._connect_timeout, self._read_timeout = timeout
        self._limit = limit
        self._keep = keep

    def get(self, path: str) -> _Answer | None:
        """``(200, content, ETag)``, ``(404, b"", None)``, or ``None``: send it through the full transport.

        A kept-alive connection the server has closed since (an idle timeout) gives no answer at all: the request
        is then sent once more on a new connection, as urllib3 does with its pool."""
        request = b"GET " + (self._prefix + quote(path, safe="/")).encode("ascii") + b" HTTP/1.1\r\n" + self._head
        for _ in range(2):
            try:
                connection, kept = self._take()
            except _FAILURES:
                return None
            try:
                connection.sock.sendall(request)
                answer, reusable = self._answer(connection.answers)
                if answer is not None and connection.has_more(self._read_timeout):
                    answer = None  # more than one answer to one request: neither can be trusted
            except _DROPPED:
                connection.close()
                if kept:
                    continue  # closed or reset while it waited here: another connection
                return None
            except _FAILURES:
                connection.close()
                return None
            if answer is None or not reusable:
                connection.close()
            else:
                self._give_back(connection)
            return answer
        return None

    def _take(self) -> tuple[_Connection, bool]:
        """An idle connection and ``True``, or a new one and ``False``. An idle connection with something to read
        is closed, never used: its server closed it, or sent bytes nobody asked for (as urllib3 does).
        :raises OSError, ValueError: no new connection could be opened."""
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return self._open(), False
            try:
                readable = connection.readable()
            except _FAILURES:
                readable = True
            if not readable:
                return connection, True
            connection.close()

    def _answer(self, answers: BinaryIO) -> tuple[_Answer | None, bool]:
        """The answer read, if it is one taken here, and whether its connection can serve another request.
        :raises _Unanswered: the connection ended before the first byte of an answer."""
        first = answers.readline(_LINE + 1)
        if not first:
            raise _Unanswered
        status_line = _STATUS.fullmatch(first)
        if status_line is None:
            return None, False
        status = int(status_line.group(2))
        fields = _headers(answers)
        if fields is None or status not in (200, 404) or b"transfer-encoding" in fields:
            return None, False
        length = fields.get(b"content-length", b"")
        encoding = fields.get(b"content-encoding", b"identity").lower()
        if (
            not (length.isdigit() and len(length) <= _LENGTH_DIGITS)  # ASCII digits only: no sign, no "0x"
            or int(length) > (self._limit if status == 200 else _SHORT_BODY)
        ):
            return None, False  # too large (the full transport says so), or not delimited by a length
        if status == 200 and encoding != b"identity":
            return None, False  # compressed: the full transport refuses it
        content = answers.read(int(length))
        if len(content) != int(length):
            return None, False  # broken off
        reusable = status_line.group(1) == b"1" and b"close" not in fields.get(b"connection", b"").lower()
        if status == 404:
            return (404, b"", None), reusable
        etag = fields.get(b"etag")
        return (200, content, etag.decode("latin-1") if etag is not None else None), reusable

    def _open(self) -> _Connection:
        sock = socket.create_connection((self._host, self._port), timeout=self._connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self._host)
            sock.settimeout(self._read_timeout)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _give_back(self, connection: _Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._keep:
                self._idle.append(connection)
                return
        connection.close()

    def preconnect(self) -> None:
        """Open a connection now, for a read to come (call it on a thread of its own); best effort."""
        try:
            connection = self._open()
        except _FAILURES:
            return
        self._give_back(connection)

    def __del__(self) -> None:  # dropped without close(): its idle connections go with it
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = list(self._idle)
            self._idle.clear()
        for connection in idle:
            connection.close()
