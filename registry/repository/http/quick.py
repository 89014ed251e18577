"""Plain GETs of small files on kept-alive connections of the standard library's ``http.client``.

A search or a catalog reads small files by the thousand (a card, its checksum, a promotion record, a signature
for every version). Sent through ``requests`` and urllib3 each costs about 0.5 ms of CPU: prepared requests,
retry and timeout objects, a response wrapper, a pool guarded by a condition variable that 64 threads queue on.
That CPU, not the network, set the time of a catalog over 1,000 versions. Here a GET is the request line, the
session's headers and one read of the body, on a connection taken from a free list: about a third of the CPU.

Only the two answers such reads expect are taken here: ``200`` with a body as stored (no ``Content-Encoding``)
within the size limit, and ``404``. For anything else (another status, a redirect, a compressed body, a
connection refused, dropped or timed out) :meth:`QuickReader.get` returns ``None`` and the caller sends the
request through its full transport, which retries, follows redirects and reports every failure as it always
has: this path never makes an error of its own.
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
from collections import deque
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

__all__ = ["QuickReader", "tls_context"]

#: The longest 404 page read to keep its connection (a server's page is a few hundred bytes).
_SHORT_BODY = 64 << 10
#: What may be raised while sending a request or reading its answer: the connection is then closed.
_FAILURES = (OSError, http.client.HTTPException, ValueError)


def tls_context(verify: bool | str, default_bundle: str) -> ssl.SSLContext:
    """The verification ``requests`` would do for ``verify``: ``True`` (its CA bundle, ``default_bundle``), or the
    path of a CA bundle file or folder. :raises OSError, ssl.SSLError: the bundle cannot be read."""
    location = default_bundle if verify is True else str(verify)
    if os.path.isdir(location):
        return ssl.create_default_context(capath=location)
    return ssl.create_default_context(cafile=location)


class QuickReader:
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
        self._idle: deque[http.client.HTTPConnection] = deque()  # append and pop are atomic: no lock to queue on
        self._closed = False
        self._lock = threading.Lock()  # close() against a connection coming back
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname or (parts.scheme == "https") != bool(tls):
            raise ValueError("an http URL, or an https URL with its TLS context")
        self._host, self._port, self._tls = parts.hostname, parts.port, tls
        self._prefix = parts.path
        self._headers = {name: value for name, value in headers.items() if name.lower() != "connection"}
        self._connect_timeout, self._read_timeout = timeout
        self._limit = limit
        self._keep = keep

    def get(self, path: str) -> tuple[int, bytes, str | None] | None:
        """``(200, content, ETag)``, ``(404, b"", None)``, or ``None``: send it through the full transport."""
        try:
            connection = self._idle.pop()
        except IndexError:
            try:
                connection = self._open()
            except _FAILURES:
                return None
        try:
            connection.request("GET", self._prefix + quote(path, safe="/"), headers=self._headers)
            response = connection.getresponse()
            answer = self._answer(response)
        except _FAILURES:
            connection.close()
            return None
        if answer is None or response.will_close:
            connection.close()
        else:
            self._give_back(connection)
        return answer

    def _answer(self, response: http.client.HTTPResponse) -> tuple[int, bytes, str | None] | None:
        encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        if response.status == 200 and encoding == "identity":
            content = response.read(self._limit + 1)
            if len(content) > self._limit or not response.isclosed():
                return None  # too large: the full transport says so
            return 200, content, response.getheader("ETag")
        if response.status == 404:
            response.read(_SHORT_BODY)
            return (404, b"", None) if response.isclosed() else None
        return None

    def _open(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._tls is not None:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._connect_timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._connect_timeout)
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(self._read_timeout)
        return connection

    def _give_back(self, connection: http.client.HTTPConnection) -> None:
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
