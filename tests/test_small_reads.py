"""The small-file reader (registry.repository.http.small_reads) against a real socket server answering canned bytes:
it takes plain 200 and 404 answers on kept-alive connections, and leaves every other answer to the full
transport (``None``) without raising."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from realtools import free_port

from registry.coordinates import Coordinate
from registry.promotion import CLASSIFIER as PROMOTION_CLASSIFIER
from registry.promotion import PromotionRecord
from registry.repository.config import RepositoryConfig
from registry.repository.http import HttpRepository
from registry.repository.http.small_reads import SmallFileReader
from registry.store import ABSENT, Cache, fetch_promotion

HEADERS = {"User-Agent": "registry (maven2 client)", "Authorization": "Basic dTpw", "Connection": "keep-alive"}


@dataclass
class Canned:
    """A server on 127.0.0.1 answering each request with the next of ``answers`` (then closing, if told to)."""

    answers: list[bytes]
    port: int = 0
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    close_after: set[int] = field(default_factory=set)  # answer numbers after which the connection is closed
    stray: dict[int, bytes] = field(default_factory=dict)  # bytes sent unasked, a moment after answer number n

    def serve(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # reset by a client that closed with stray bytes unread
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            while self.answers:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                self.requests.append(head)
                conn.sendall(self.answers.pop(0))
                if len(self.requests) in self.stray:
                    time.sleep(0.05)
                    conn.sendall(self.stray[len(self.requests)])
                if len(self.requests) in self.close_after:
                    return


@pytest.fixture
def canned() -> Iterator[Canned]:
    server = Canned([])
    listener = socket.socket()
    listener.bind(("127.0.0.1", free_port()))
    listener.listen(8)
    server.port = listener.getsockname()[1]
    threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
    yield server
    listener.close()


def _reader(server: Canned, limit: int = 1000) -> SmallFileReader:
    return SmallFileReader(f"http://127.0.0.1:{server.port}/repo/", HEADERS, timeout=(2, 2), limit=limit, keep=4)


def test_plain_answers_are_taken_on_one_kept_alive_connection(canned: Canned) -> None:
    canned.answers += [
        b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: "abc"\r\nServer: x\r\n\r\nhello',
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nContent-Type: text/html\r\n\r\nnot found",
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    ]
    reader = _reader(canned)
    assert reader.get("com/acme/churn/maven-metadata.xml") == (200, b"hello", '"abc"')
    assert reader.get("a b/c.json") == (404, b"", None)
    assert reader.get("empty") == (200, b"", None)
    assert canned.connections == 1
    first = canned.requests[0].decode()
    assert first.startswith("GET /repo/com/acme/churn/maven-metadata.xml HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{canned.port}\r\n" in first and "Authorization: Basic dTpw\r\n" in first
    assert "Connection" not in first  # HTTP/1.1 keeps the connection without being asked
    assert canned.requests[1].startswith(b"GET /repo/a%20b/c.json HTTP/1.1\r\n")
    reader.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http-1.0"],
)
def test_an_answer_that_ends_its_connection_is_taken_and_the_next_read_connects_again(
    canned: Canned, answer: bytes
) -> None:
    canned.answers += [answer, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    canned.close_after.add(1)
    reader = _reader(canned)
    assert reader.get("one") == (200, b"ok", None)
    assert reader.get("two") == (200, b"ok", None)
    assert canned.connections == 2


def test_a_kept_connection_the_server_closed_since_is_replaced_by_a_new_one(canned: Canned) -> None:
    # The server keeps nothing idle (as after its idle timeout); the answer did not say so (no Connection: close).
    canned.answers += [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo",
    ]
    canned.close_after.add(1)
    reader = _reader(canned)
    assert reader.get("one") == (200, b"one", None)
    assert reader.get("two") == (200, b"two", None)  # not left to the full transport: asked again here
    assert canned.connections == 2 and len(canned.requests) == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 301 Moved Permanently\r\nLocation: /elsewhere/\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Encoding: gzip\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Folded: a\r\n b\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\n\r\nno length, ends with the connection",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000,
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nNo colon here\r\n\r\nok",
        b"HTTP/2 200\r\nContent-Length: 2\r\n\r\nok",
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"",
    ],
    ids=[
        "500", "401", "redirect", "interim-100", "chunked", "chunked-and-length", "two-lengths", "gzip", "folded",
        "no-length", "negative-length", "over-limit", "cut-short", "no-colon", "http-2", "not-http", "nothing",
    ],
)  # fmt: skip
def test_any_other_answer_is_left_to_the_full_transport(canned: Canned, answer: bytes) -> None:
    canned.answers.append(answer)
    canned.close_after.add(1)
    reader = _reader(canned)
    assert reader.get("file") is None
    assert len(canned.requests) == 1


def test_an_unreachable_silent_or_hanging_up_server_is_left_to_the_full_transport(canned: Canned) -> None:
    refused = SmallFileReader(f"http://127.0.0.1:{free_port()}/repo/", HEADERS, timeout=(1, 1), limit=10, keep=1)
    assert refused.get("file") is None
    with socket.socket() as silent:  # connections wait in its backlog, never answered
        silent.bind(("127.0.0.1", free_port()))
        silent.listen(4)
        port = silent.getsockname()[1]
        waiting = SmallFileReader(f"http://127.0.0.1:{port}/repo/", HEADERS, timeout=(1, 0.3), limit=10, keep=1)
        assert waiting.get("file") is None
    assert _reader(canned).get("file") is None  # nothing canned: the server hangs up without an answer


def test_a_closed_reader_keeps_no_connection(canned: Canned) -> None:
    canned.answers += [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"] * 2
    reader = _reader(canned)
    assert reader.get("one") == (200, b"ok", None)
    reader.close()
    assert reader.get("two") == (200, b"ok", None)  # still answers, on a connection it does not keep
    assert canned.connections == 2


EVIL = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL"
GONE = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize("stray", [EVIL, GONE], ids=["200", "404"])
def test_a_second_answer_sent_with_the_first_is_never_taken_for_the_next_requests(canned: Canned, stray: bytes) -> None:
    # The server answers once more than asked, in the same write: an answer read from that connection later would
    # belong to no request (the server has not even read the next one).
    canned.answers += [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + stray,
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal",
    ]
    reader = _reader(canned)
    assert reader.get("one") is None  # two answers to one request: left to the full transport
    assert reader.get("two") == (200, b"real", None)
    assert canned.connections == 2 and len(canned.requests) == 2


@pytest.mark.parametrize("stray", [EVIL, GONE], ids=["200", "404"])
def test_an_idle_connection_with_bytes_sent_unasked_is_closed_not_used(canned: Canned, stray: bytes) -> None:
    # The stray answer arrives after the first was read and its connection kept: it is found when the idle
    # connection is taken again, readable when nothing was asked (urllib3 drops such a connection too).
    canned.answers += [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal",
    ]
    canned.stray[1] = stray
    reader = _reader(canned)
    assert reader.get("one") == (200, b"ok", None)
    time.sleep(0.3)  # the stray bytes are there
    assert reader.get("two") == (200, b"real", None)
    assert canned.connections == 2 and len(canned.requests) == 2


def test_a_stray_404_never_makes_the_store_record_an_existing_promotion_record_absent(
    canned: Canned, tmp_path: Path
) -> None:
    # Through the HTTP repository and the store: the record exists, but a 404 the server sent unasked after an
    # earlier answer would say it does not, and the cache index would keep "absent" for good.
    version = Coordinate.parse("com.acme:churn:1.0.0")
    record = PromotionRecord(str(version), "2026-01-01T00:00:00Z", {"user": "ci"}, "staging", "prod").to_json()
    canned.answers += [_ok(b"meta"), _ok(record), _ok(hashlib.sha512(record).hexdigest().encode())]
    canned.stray[1] = GONE
    repository = HttpRepository(RepositoryConfig("canned", f"http://127.0.0.1:{canned.port}/repo/", timeout=2))
    cache = Cache(tmp_path)
    try:
        assert repository.read("com/acme/churn/maven-metadata.xml") == b"meta"
        time.sleep(0.3)  # the stray 404 is there
        found = fetch_promotion(repository, version, cache=cache, listed=True)
    finally:
        repository.close()
    assert found is not None and found.target == "prod"
    name = version.file_name("json", PROMOTION_CLASSIFIER)
    assert cache.served(repository.origin, version, name) != ABSENT


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
