"""The small-file reader (registry.repository.http.small_reads) against a real socket server serving answers generated
by hypothesis: a plain answer with one hostile change at most (stray bytes, bare LF, odd or repeated
Content-Length, continuation lines, NUL and control characters, other versions and statuses, oversize lines,
headers and bodies, truncation).

Whatever it is served, :meth:`SmallFileReader.get` never raises; it returns the file exactly as served, its absence,
or ``None`` (the full transport then asks again), never another body; and a connection that carried anything but
a plain answer is never used again (the next request arrives on a new connection, and is answered right).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from harness import FIGURES
from hypothesis import given, settings
from hypothesis import strategies as st
from realtools import free_port

from registry.repository.http.small_reads import SmallFileReader

LIMIT = 1000
#: Hypothesis examples for each kind of answer (its status, body, ETag and header order drawn); one for a kind the
#: reader can only wait out (its read timeout, 2 s), whatever its body.
EXAMPLES_PER_KIND = 5
WAITED = frozenset({"http-0.9"})
NEXT = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"


@dataclass
class Scripted:
    """A server on 127.0.0.1 answering each request, on whichever connection, with the next scripted bytes (and
    closing the connection after them when told to); it records which connection each request came on."""

    port: int = 0
    script: list[tuple[bytes, bool]] = field(default_factory=list, repr=False)
    arrivals: list[int] = field(default_factory=list, repr=False)  # the connection number of each request
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._talk, args=(conn, number), daemon=True).start()

    def _talk(self, conn: socket.socket, number: int) -> None:
        with contextlib.suppress(OSError), conn, conn.makefile("rb") as reader:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                with self.lock:
                    self.arrivals.append(number)
                    answer, close = self.script.pop(0) if self.script else (NEXT, False)
                conn.sendall(answer)
                if close:
                    conn.shutdown(socket.SHUT_WR)
                    return


@pytest.fixture(scope="module")
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    listener = socket.socket()
    listener.bind(("127.0.0.1", free_port()))
    listener.listen(64)
    server.port = listener.getsockname()[1]
    threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
    yield server
    listener.close()


@dataclass
class Answer:
    """An answer as parts, and what the reader may make of it."""

    status: int
    body: bytes
    etag: str | None
    version: bytes = b"HTTP/1.1"
    reason: bytes = b"OK"
    headers: list[bytes] = field(default_factory=list)  # whole lines, without their end
    eol: bytes = b"\r\n"
    before: bytes = b""  # sent before the status line
    after: bytes = b""  # sent after the body
    close: bool = False  # the server closes the connection after it (a truncated answer)
    ended: bool = True  # the head ends with its empty line (a head cut short has none)
    plain: bool = True  # taken by the reader: the file or its absence
    exact: bool = True  # taken only as served; an irregular answer may still be taken where a reader cannot tell
    keeps: bool = True  # the connection may serve another request

    def wire(self) -> bytes:
        head = self.before + self.version + b" " + b"%d" % self.status + (b" " + self.reason if self.reason else b"")
        fields = b"".join(line + self.eol for line in self.headers) + (self.eol if self.ended else b"")
        return head + self.eol + fields + self.body + self.after


def _irregular(answer: Answer) -> None:
    answer.plain = answer.keeps = False


def _set_length(value: bytes) -> Callable[[Answer], None]:
    def change(answer: Answer) -> None:
        answer.headers = [
            h if not h.startswith(b"Content-Length:") else b"Content-Length: " + value for h in answer.headers
        ]
        _irregular(answer)

    return change


def _add(line: bytes, *, plain: bool = False) -> Callable[[Answer], None]:
    def change(answer: Answer) -> None:
        answer.headers.insert(len(answer.headers) // 2, line)
        if not plain:
            _irregular(answer)

    return change


def _length(answer: Answer) -> bytes:
    return b"%d" % len(answer.body)


def _bare_lf(answer: Answer) -> None:
    answer.eol = b"\n"
    _irregular(answer)


def _version(version: bytes) -> Callable[[Answer], None]:
    def change(answer: Answer) -> None:
        answer.version = version
        _irregular(answer)

    return change


def _http_09(answer: Answer) -> None:  # no status line nor headers: the body alone
    answer.version, answer.reason, answer.headers, answer.eol = b"", b"", [], b""
    answer.status = 0
    _irregular(answer)


def _stray(extra: bytes) -> Callable[[Answer], None]:
    def change(answer: Answer) -> None:
        answer.after = extra
        answer.keeps = False
        answer.exact = False  # rejected when the stray bytes are there at once; they may also come a moment later

    return change


def _truncate(answer: Answer) -> None:
    length = b"Content-Length: %d" % (len(answer.body) + 5)  # more than is sent
    answer.body = answer.body[: len(answer.body) // 2]
    answer.headers = [h if not h.startswith(b"Content-Length:") else length for h in answer.headers]
    answer.close = True
    _irregular(answer)


def _cut_in_headers(answer: Answer) -> None:
    answer.headers = answer.headers[:1]  # and no empty line: the connection closes inside the head
    answer.eol = b"\r\n"
    answer.ended = False
    answer.body = b""
    answer.close = True
    _irregular(answer)


def _status(code: int) -> Callable[[Answer], None]:
    def change(answer: Answer) -> None:
        answer.status = code
        _irregular(answer)

    return change


def _oversize_body(answer: Answer) -> None:
    size = LIMIT + 1 if answer.status == 200 else (64 << 10) + 1  # a 404's page is read to keep its connection
    answer.body = b"x" * size
    answer.headers = [
        h if not h.startswith(b"Content-Length:") else b"Content-Length: %d" % size for h in answer.headers
    ]
    _irregular(answer)


def _many_headers(answer: Answer) -> None:
    answer.headers += [b"X-Many-%d: 1" % i for i in range(120)]
    _irregular(answer)


def _not_kept(line: bytes) -> Callable[[Answer], None]:
    def change(answer: Answer) -> None:
        if line.startswith(b"HTTP/"):
            answer.version = line
        else:
            answer.headers.append(line)
        answer.keeps = False

    return change


def _twice_length(answer: Answer) -> None:
    answer.headers.append(b"Content-Length: " + _length(answer))
    _irregular(answer)


HOSTILE: dict[str, Callable[[Answer], None]] = {
    "bare-lf": _bare_lf,
    "length-plus": lambda a: _set_length(b"+" + _length(a))(a),
    "length-hex": lambda a: _set_length(b"0x%x" % len(a.body))(a),
    "length-negative": lambda a: _set_length(b"-" + _length(a))(a),
    "length-inner-space": lambda a: _set_length(_length(a) + b" " + _length(a))(a),
    "length-comma": lambda a: _set_length(_length(a) + b", " + _length(a))(a),
    "length-huge": _set_length(b"9" * 30),
    "length-enormous": _set_length(b"9" * 5000),
    "length-empty": _set_length(b""),
    "length-unicode-digit": _set_length("٣".encode()),
    "length-twice": _twice_length,
    "length-missing": lambda a: (
        setattr(a, "headers", [h for h in a.headers if not h.startswith(b"Content-")]) or _irregular(a)
    ),
    "space-before-colon": lambda a: (
        setattr(a, "headers", [h.replace(b"Content-Length:", b"Content-Length :") for h in a.headers]) or _irregular(a)
    ),
    "obs-fold": _add(b"X-Folded: a\r\n b"),
    "obs-fold-first": lambda a: a.headers.insert(0, b" X-Lead: 1") or _irregular(a),
    "nul-in-value": _add(b"X-Nul: a\x00b"),
    "nul-in-name": _add(b"X-N\x00ul: 1"),
    "nul-in-reason": lambda a: setattr(a, "reason", b"O\x00K") or _irregular(a),
    "cr-in-value": _add(b"X-Cr: a\rb"),
    "ctl-in-value": _add(b"X-Ctl: a\x01b"),
    "del-in-value": _add(b"X-Del: a\x7fb"),
    "name-not-token": _add(b"X(A): 1"),
    "no-colon": _add(b"No colon here"),
    "oversize-line": _add(b"X-Long: " + b"a" * 9000),
    "many-headers": _many_headers,
    "chunked": _add(b"Transfer-Encoding: chunked"),
    "gzip": lambda a: _add(b"Content-Encoding: gzip", plain=a.status == 404)(a),  # a 404 is one, however encoded
    "http-0.9": _http_09,
    "http-2.0": _version(b"HTTP/2.0"),
    "http-2": _version(b"HTTP/2"),
    "http-1.2": _version(b"HTTP/1.2"),
    "lower-case-version": _version(b"http/1.1"),
    "leading-empty-line": lambda a: setattr(a, "before", b"\r\n") or _irregular(a),
    "status-100-first": lambda a: setattr(a, "before", b"HTTP/1.1 100 Continue\r\n\r\n") or _irregular(a),
    "oversize-body": _oversize_body,
    "truncated-body": _truncate,
    "truncated-headers": _cut_in_headers,
    "stray-answer": _stray(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL"),
    "stray-404": _stray(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    "stray-byte": _stray(b"x"),
    "stray-crlf": _stray(b"\r\n"),
    **{f"status-{code}": _status(code) for code in (100, 201, 204, 206, 301, 304, 401, 403, 429, 500, 503, 999)},
}
#: Plain answers all the same: what a server may send and the reader must read right.
HARMLESS: dict[str, Callable[[Answer], None]] = {
    "none": lambda a: None,
    "ows-around-length": lambda a: setattr(
        a, "headers", [h.replace(b"Content-Length: ", b"Content-Length:\t ") + b" \t" for h in a.headers]
    ),
    "lower-case-names": lambda a: setattr(
        a, "headers", [h.split(b":", 1)[0].lower() + b":" + h.split(b":", 1)[1] for h in a.headers]
    ),
    "no-reason": lambda a: setattr(a, "reason", b""),
    "odd-reason": lambda a: setattr(a, "reason", b"Fine \xe9\t!"),
    "obs-text-value": _add(b"Server: caf\xe9", plain=True),
    "keep-alive": _add(b"Connection: keep-alive", plain=True),
    "identity": _add(b"Content-Encoding: identity", plain=True),
    "connection-close": _not_kept(b"Connection: close"),
    "http-1.0": _not_kept(b"HTTP/1.0"),
}


#: Every kind of answer, each tried in a test of its own (so that none is left out by chance).
KINDS = sorted(HOSTILE) + sorted(HARMLESS)


@st.composite
def answers(draw: st.DrawFn, name: str | None = None) -> tuple[str, Answer]:
    """A plain answer (status, body, ETag, header order drawn), changed as ``name`` says (or a kind drawn)."""
    status = draw(st.sampled_from([200, 404]))
    body = draw(st.binary(max_size=200)) if status == 200 else draw(st.sampled_from([b"", b"<h1>not found</h1>"]))
    etag = draw(st.sampled_from([None, '"5f3a-1a"', 'W/"x"'])) if status == 200 else None
    headers = [b"Content-Length: %d" % len(body), b"Content-Type: application/octet-stream", b"Server: nginx"]
    headers += [b"ETag: " + etag.encode()] if etag else []
    headers = draw(st.permutations(headers))
    answer = Answer(status, body, etag, reason=b"OK" if status == 200 else b"Not Found", headers=list(headers))
    name = name or draw(st.sampled_from(KINDS))
    (HOSTILE.get(name) or HARMLESS[name])(answer)
    return name, answer


def fuzz(kind: str, examples: int, check: Callable[[str, Answer], None]) -> None:
    """Run ``check(name, answer)`` on ``examples`` answers of ``kind``, drawn by hypothesis."""

    @settings(max_examples=examples, deadline=None)
    @given(example=answers(kind))
    def run(example: tuple[str, Answer]) -> None:
        check(*example)

    run()


@pytest.mark.parametrize("kind", KINDS)
def test_the_reader_takes_plain_answers_exactly_and_nothing_else(scripted: Scripted, kind: str) -> None:
    fuzz(kind, 1 if kind in WAITED else EXAMPLES_PER_KIND, lambda name, answer: _check(scripted, name, answer))


def _check(scripted: Scripted, name: str, answer: Answer) -> None:
    scripted.script[:] = [(answer.wire(), answer.close)]
    reader = SmallFileReader(
        f"http://127.0.0.1:{scripted.port}/repo/", {"User-Agent": "fuzz"}, timeout=(2, 2), limit=LIMIT, keep=2
    )
    try:
        first = reader.get("file")  # never raises
        assert reader.get("next") == (200, b"next", None), name  # the next request is answered right
    finally:
        reader.close()
    served = (answer.status, answer.body if answer.status == 200 else b"", answer.etag)
    if answer.plain and answer.exact:
        assert first == served, name
    elif answer.exact:
        assert first is None, name
    else:
        assert first in (None, served), name  # never another body
    with scripted.lock:
        one, two = scripted.arrivals[-2:]
    if not answer.keeps or first is None:
        assert two != one, f"{name}: the connection was used again"
    else:
        assert two == one, f"{name}: a plain answer's connection was not kept"
    FIGURES["hostile answers served to the small-file reader"] += 1
