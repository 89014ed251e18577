"""A real S3 API server (moto's standalone server, in its own process) and a loopback proxy in front of it.

moto checks a condition (If-None-Match, If-Match) and then writes without a lock, so two concurrent creates of one
key can both succeed. S3 itself is atomic: the proxy forwards one write at a time, so that a race test tests us,
not moto. It also counts requests, and can strip the conditional headers (a server that ignores them).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import moto.server
from realtools import free_port

#: The credentials every test hands boto3 (moto accepts any, unless told to check them).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_WRITES = ("PUT", "POST", "DELETE")
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


_KEEP_ALIVE = """
import sys
import waitress
from moto.server import DomainDispatcherApplication, create_backend_app
waitress.serve(DomainDispatcherApplication(create_backend_app), host="127.0.0.1", port=int(sys.argv[1]), threads=16,
               _quiet=True)
"""


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("moto_server did not start")


@contextmanager
def moto_server(log: Path | None = None, *, keep_alive: bool = False, **env: str) -> Iterator[str]:
    """``moto_server`` on 127.0.0.1 and a free port, in its own process; yields its URL.

    ``keep_alive``: moto's application served by waitress, which keeps connections open between requests as S3
    does (moto's own server answers every request with ``Connection: close``); for benchmarks (waitress is in
    benchmarks/requirements-s3.txt, not a dependency of the tests)."""
    port = free_port()
    out = log.open("wb") if log else subprocess.DEVNULL
    command = [sys.executable, "-m", moto.server.__name__, "-H", "127.0.0.1", "-p", str(port)]
    if keep_alive:
        command = [sys.executable, "-c", _KEEP_ALIVE, str(port)]
    process = subprocess.Popen(
        command,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", **AWS_ENV, **env},
    )
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        if log:
            out.close()  # type: ignore[union-attr]


class S3Proxy:
    """A loopback HTTP proxy to ``upstream`` that forwards one write at a time and counts requests.

    ``strip``: headers to drop from every request (``("If-None-Match", "If-Match")``: a server that ignores
    conditional writes).
    """

    def __init__(self, upstream: str, *, strip: tuple[str, ...] = ()) -> None:
        self.upstream = upstream.split("://", 1)[1]
        self.strip = {name.lower() for name in strip}
        self.requests: list[tuple[str, str]] = []
        self._drop: list[tuple[str, str]] = []
        self._cut: list[tuple[str, str]] = []
        self._faults: list[tuple[int, str, str]] = []
        self._refusals: list[tuple[str, str, int, str]] = []
        self._write_lock = threading.Lock()
        self._count_lock = threading.Lock()
        proxy = self
        local = threading.local()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    # The client went away mid-body (a killed deploy): S3 discards such a request. Forwarding it
                    # would leave the server waiting for the rest while this thread holds the write lock.
                    self.close_connection = True
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                headers = {k: v for k, v in headers.items() if k.lower() not in proxy.strip}
                with proxy._count_lock:
                    proxy.requests.append((self.command, self.path))
                    fault = proxy._faults.pop(0) if proxy._faults else proxy._refusal(self.command, self.path)
                if fault is not None:  # answered by the proxy, as S3 would answer it; nothing reaches the server
                    status, code, extra = fault
                    data = (
                        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                        f"<Message>{code}</Message>{extra}</Error>"
                    ).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    if code == "PermanentRedirect":
                        self.send_header("x-amz-bucket-region", "eu-west-3")
                    self.send_header("Content-Length", str(len(data)) if self.command != "HEAD" else "0")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                    return
                lock = proxy._write_lock if self.command in _WRITES else None
                if lock:
                    lock.acquire()
                try:
                    status, reason, answer, data = self._send(headers, body)
                finally:
                    if lock:
                        lock.release()
                if proxy._drops(self.command, self.path):
                    self.close_connection = True  # written, but the answer is lost: the client sees a dropped line
                    return
                self.send_response(status, reason)
                for key, value in answer:
                    if key.lower() not in _HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header(
                    "Content-Length",
                    str(len(data))
                    if self.command != "HEAD"
                    else dict((k.lower(), v) for k, v in answer).get("content-length", "0"),
                )
                self.end_headers()
                if self.command != "HEAD":
                    if proxy._cuts(self.command, self.path):
                        self.wfile.write(data[: len(data) // 2])  # half the body, then the line drops
                        self.close_connection = True
                        return
                    self.wfile.write(data)

            def _send(self, headers: dict[str, str], body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
                for attempt in (1, 2):
                    connection = getattr(local, "connection", None)
                    if connection is None:
                        connection = local.connection = http.client.HTTPConnection(proxy.upstream, timeout=60)
                    try:
                        connection.request(self.command, self.path, body=body, headers=headers)
                        response = connection.getresponse()
                        data = response.read()
                        return response.status, response.reason, response.getheaders(), data
                    except (http.client.HTTPException, OSError):
                        connection.close()
                        local.connection = None
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        # A client that connects and resets before accept() leaves a blocking accept() waiting for the next one, and
        # shutdown() waiting on it: never blocking, serve_forever sees shutdown within its poll interval.
        self.server.socket.setblocking(False)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, times: int, status: int, code: str, extra: str = "") -> None:
        """Answer the next ``times`` requests with S3's error ``code`` (HTTP ``status``) instead of forwarding them."""
        with self._count_lock:
            self._faults.extend([(status, code, extra)] * times)

    def refuse(self, method: str, ending: str, status: int, code: str) -> None:
        """Answer the next ``method`` request whose path ends with ``ending`` (its query aside) with S3's error
        ``code`` (HTTP ``status``) instead of forwarding it (once)."""
        with self._count_lock:
            self._refusals.append((method, ending, status, code))

    def _refusal(self, method: str, path: str) -> tuple[int, str, str] | None:
        """(called holding the count lock)"""
        for entry in self._refusals:
            if entry[0] == method and path.split("?", 1)[0].endswith(entry[1]):
                self._refusals.remove(entry)
                return entry[2], entry[3], ""
        return None

    def drop_answer(self, method: str, fragment: str) -> None:
        """Forward the next ``method`` request whose path contains ``fragment``, then drop the connection without
        answering (once)."""
        with self._count_lock:
            self._drop.append((method, fragment))

    def _drops(self, method: str, path: str) -> bool:
        with self._count_lock:
            for entry in self._drop:
                if entry[0] == method and entry[1] in path:
                    self._drop.remove(entry)
                    return True
        return False

    def cut_answer(self, method: str, ending: str) -> None:
        """Answer the next ``method`` request whose path ends with ``ending`` (its query aside) with its status,
        its headers and half its body, then drop the connection (once): a download cut off midway."""
        with self._count_lock:
            self._cut.append((method, ending))

    def _cuts(self, method: str, path: str) -> bool:
        with self._count_lock:
            for entry in self._cut:
                if entry[0] == method and path.split("?", 1)[0].endswith(entry[1]):
                    self._cut.remove(entry)
                    return True
        return False

    def count(self, method: str | None = None) -> int:
        with self._count_lock:
            return sum(1 for m, _ in self.requests if method is None or m == method)

    def reset(self) -> None:
        with self._count_lock:
            self.requests.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def use_aws(monkeypatch: Any, home: Path, endpoint: str) -> None:
    """boto3's chain, for the rest of the test, sees the test credentials and ``endpoint`` only (no developer
    configuration)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))


def new_bucket(endpoint: str, prefix: str = "models") -> str:
    """A new, empty bucket on the server at ``endpoint``; its name."""
    import boto3

    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    boto3.client("s3", endpoint_url=endpoint, **keys).create_bucket(Bucket=name)
    return name
