"""A real, misbehaving maven2 HTTP server: a file tree served on 127.0.0.1 with scripted faults per path and attempt.

``responses`` fakes HTTP above the socket, so it cannot reset a connection half-way through a body, stall, or
lie in ``Content-Length``; urllib3's real retry logic never runs against it. This server is real sockets: it
serves GET/HEAD (with an HTML folder index), and PUT (honouring ``If-None-Match: *`` and ``If-Match``, like
Nexus), DELETE; MKCOL and LOCK are refused with 405, as Nexus does. Faults are scripted per method and path::

    server.script("GET", "com/acme/churn/maven-metadata.xml", Status(503), Status(503))  # then normal service
    server.always("GET", ".jar", Reset(after=1000))                                       # every attempt

A script applies to the first attempts in order, then the path is served normally; ``always`` applies to every
attempt. Paths match when the request path ends with the given text. Every sleep waits on the server's stop
event, so that stopping the server ends every handler at once.
"""

from __future__ import annotations

import hashlib
import html
import socket
import ssl
import struct
import subprocess
import threading
import zlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = [
    "Body",
    "FaultyServer",
    "Reset",
    "Silence",
    "Stall",
    "Status",
    "Trickle",
    "faulty_server",
    "gzip_bomb",
    "self_signed",
]

_MAX_WAIT = 60.0  # no handler ever waits longer than this, whatever a test asks


@dataclass(frozen=True)
class Status:
    """Answer with this status (and body, headers) instead of serving the file."""

    code: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Reset:
    """Reset the connection (TCP RST): before any answer, or after sending the headers and ``after`` body bytes."""

    after: int | None = None


@dataclass(frozen=True)
class Stall:
    """Send the headers and ``after`` body bytes, then go quiet for ``seconds``, then send the rest."""

    seconds: float
    after: int = 0


@dataclass(frozen=True)
class Trickle:
    """Send the body ``size`` bytes at a time, one chunk every ``interval`` seconds (each gap under a timeout)."""

    interval: float
    size: int = 1


@dataclass(frozen=True)
class Body:
    """Serve these bytes instead of the file; ``length`` overrides Content-Length (a lie, if it differs)."""

    data: bytes
    length: int | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Silence:
    """Read the request, then never answer (until the server stops)."""


Fault = Status | Reset | Stall | Trickle | Body | Silence


class _Hangup(Exception):
    """The handler reset the connection on purpose."""


@dataclass
class FaultyServer:
    """The running server: its URL, its file tree, its fault scripts and what happened."""

    root: Path
    url: str = ""
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, what was done)
    _scripts: dict[tuple[str, str], list[Fault]] = field(default_factory=dict)
    _always: dict[tuple[str, str], Fault] = field(default_factory=dict)
    _attempts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def script(self, method: str, path: str, *faults: Fault) -> None:
        """The first ``len(faults)`` requests of ``method`` on paths ending with ``path`` get these faults."""
        with self._lock:
            self._scripts[(method, path)] = list(faults)

    def always(self, method: str, path: str, fault: Fault) -> None:
        """Every request of ``method`` on paths ending with ``path`` gets ``fault``."""
        with self._lock:
            self._always[(method, path)] = fault

    def clear(self) -> None:
        """Serve everything normally again."""
        with self._lock:
            self._scripts.clear()
            self._always.clear()

    @property
    def faults_injected(self) -> int:
        return sum(1 for _, _, what in self.log if what != "served")

    def requests(self, method: str, path: str) -> int:
        """How many requests of ``method`` on paths ending with ``path`` arrived."""
        return sum(1 for m, p, _ in self.log if m == method and p.endswith(path))

    def write(self, path: str, data: bytes) -> None:
        """Plant a file behind the server's back."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for (m, suffix), fault in self._always.items():
                if m == method and path.endswith(suffix):
                    return fault
            for (m, suffix), faults in self._scripts.items():
                if m == method and path.endswith(suffix):
                    self._attempts[(m, suffix)] += 1
                    attempt = self._attempts[(m, suffix)]
                    return faults[attempt - 1] if attempt <= len(faults) else None
        return None

    def _record(self, method: str, path: str, what: str) -> None:
        with self._lock:
            self.log.append((method, path, what))

    def wait(self, seconds: float) -> None:
        """Sleep, but no longer than the server lives (and never past the global bound)."""
        self.stopping.wait(min(seconds, _MAX_WAIT))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        with suppress(_Hangup, OSError, ValueError):
            super().handle()

    def finish(self) -> None:
        with suppress(OSError, ValueError):
            super().finish()

    # -- plumbing -----------------------------------------------------------------------------------------

    @property
    def state(self) -> FaultyServer:
        return self.server.state

    def _path(self) -> str:
        """The request path relative to the repository root (``/repo/``); anything else is a bad request."""
        path = unquote(urlsplit(self.path).path)
        if not path.startswith("/repo/") or ".." in path.split("/"):
            self._send(400, b"Bad path\n", {}, None, self.command == "HEAD")
            raise _Hangup
        return path[len("/repo/") :]

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        raise _Hangup

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, body: bytes, headers: dict[str, str], fault: Fault | None, head: bool) -> None:
        length = fault.length if isinstance(fault, Body) and fault.length is not None else len(body)
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if head:
            return
        if isinstance(fault, Reset) and fault.after is not None:
            self.wfile.write(body[: fault.after])
            self.wfile.flush()
            self._reset()
        if isinstance(fault, Stall):
            self.wfile.write(body[: fault.after])
            self.wfile.flush()
            self.state.wait(fault.seconds)
            body = body[fault.after :]
        if isinstance(fault, Trickle):
            for start in range(0, len(body), fault.size):
                if self.state.stopping.is_set():
                    break
                self.wfile.write(body[start : start + fault.size])
                self.wfile.flush()
                self.state.wait(fault.interval)
            return
        self.wfile.write(body)
        if isinstance(fault, Body) and fault.length is not None and fault.length != len(body):
            self.wfile.flush()
            self.close_connection = True  # the declared length was a lie: end the connection after it

    # -- methods ------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        method = "HEAD" if head else "GET"
        path = self._path()
        fault = self.state._fault(method, path)
        self.state._record(method, path, type(fault).__name__ if fault else "served")
        if isinstance(fault, Silence):
            self.state.wait(_MAX_WAIT)
            raise _Hangup
        if isinstance(fault, Reset) and fault.after is None:
            self._reset()
        if isinstance(fault, Status):
            self._send(fault.code, fault.body, dict(fault.headers), None, head)
            return
        if isinstance(fault, Stall) and fault.after == 0 and not head:
            self.state.wait(fault.seconds)  # a slow server: nothing at all, not even headers, for a while
            fault = None
        target = self.state.root / path
        headers: dict[str, str] = {}
        if isinstance(fault, Body):
            body = fault.data
            headers.update(fault.headers)
        elif target.is_file():
            body = target.read_bytes()
            headers["ETag"] = '"' + hashlib.sha1(body).hexdigest() + '"'
            headers["Last-Modified"] = formatdate(target.stat().st_mtime, usegmt=True)
        elif target.is_dir():
            body = _index(target, self.path)
            headers["Content-Type"] = "text/html"
        else:
            self._send(404, b"Not found\n", {}, None, head)
            return
        self._send(200, body, headers, fault, head)

    def do_PUT(self) -> None:
        path = self._path()
        fault = self.state._fault("PUT", path)
        self.state._record("PUT", path, type(fault).__name__ if fault else "served")
        body = self._body()
        if len(body) < int(self.headers.get("Content-Length") or 0):
            self.close_connection = True  # the client broke off: like any real server, keep nothing
            return
        if isinstance(fault, Silence):
            self.state.wait(_MAX_WAIT)
            raise _Hangup
        if isinstance(fault, Reset) and fault.after is None:
            self._reset()  # the upload is lost
        if isinstance(fault, Status):
            self._send(fault.code, fault.body, dict(fault.headers), None, False)
            return
        target = self.state.root / path
        with self.state._lock:
            exists = target.is_file()
            if self.headers.get("If-None-Match") == "*" and exists:
                self._send(412, b"", {}, None, False)
                return
            if_match = self.headers.get("If-Match")
            if if_match and (not exists or if_match != '"' + hashlib.sha1(target.read_bytes()).hexdigest() + '"'):
                self._send(412, b"", {}, None, False)
                return
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.upload")
            partial.write_bytes(body)
            partial.replace(target)
        if isinstance(fault, Reset):
            self._reset()  # the upload is stored, but the client never hears so
        self._send(204 if exists else 201, b"", {}, None, False)

    def do_DELETE(self) -> None:
        path = self._path()
        self.state._record("DELETE", path, "served")
        target = self.state.root / path
        if target.is_file():
            target.unlink()
            self._send(204, b"", {}, None, False)
        else:
            self._send(404, b"", {}, None, False)

    def do_MKCOL(self) -> None:
        self._path()
        self._body()
        self._send(405, b"", {}, None, False)

    do_LOCK = do_MKCOL


def _index(folder: Path, request_path: str) -> bytes:
    base = urlsplit(request_path).path
    base = base if base.endswith("/") else base + "/"
    links = [
        f'<a href="{html.escape(base + p.name + ("/" if p.is_dir() else ""))}">{html.escape(p.name)}</a>'
        for p in sorted(folder.iterdir())
        if not p.name.startswith(".")
    ]
    return ("<html><body>" + "<br>".join(links) + "</body></html>").encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    state: FaultyServer


@contextmanager
def faulty_server(root: Path, tls: tuple[Path, Path] | None = None) -> Iterator[FaultyServer]:
    """Serve ``root`` on a free port of 127.0.0.1 until the block ends; over HTTPS with ``tls=(cert, key)``."""
    root.mkdir(parents=True, exist_ok=True)
    state = FaultyServer(root)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = state
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/repo/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl: ``(cert, key)``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subject = ["-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), *subject],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes (rounded down to MiB) as a gzip stream about a thousandth of that: one member per MiB
    (decoders read concatenated members as one stream, and a MiB compresses in a millisecond)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    member = compressor.compress(bytes(1 << 20)) + compressor.flush()
    return member * (size >> 20)
