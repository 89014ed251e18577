"""The libcurl small-read route (registry.repository.http.multiplexed_reads) against the scripted socket server of
test_small_reads_fuzz, serving the same hypothesis-generated answers: a plain answer with one hostile change at most.

libcurl parses HTTP itself, more leniently than our own reader (a bare LF, a continuation line, a chunked body
are read as HTTP allows them), so the contract checked is the one that matters: :meth:`MultiplexedReader.get`
never raises, never returns another body than the one served (a stray second answer is never taken for the next
request's), takes a status other than 200 or 404 never, and the next request is answered right.
"""

from __future__ import annotations

import time

import pytest
from harness import FIGURES
from test_small_reads_fuzz import KINDS, LIMIT, Answer, Scripted, fuzz, scripted

from registry.repository.config import RepositoryConfig
from registry.repository.http.multiplexed_reads import MultiplexedReader
from registry.repository.http.request_settings import Endpoint

__all__ = ["scripted"]  # the fixture, shared with test_small_reads_fuzz

#: Hypothesis examples for each kind of answer: libcurl's route costs more per answer than the reader's own; one
#: for a kind libcurl can only wait out (the 1 s timeout), whatever its body.
EXAMPLES_PER_KIND = 2
WAITED = frozenset({"chunked", "length-enormous", "length-huge", "length-missing", "space-before-colon", "status-100"})


def _endpoint(server: Scripted) -> Endpoint:
    return Endpoint(RepositoryConfig("scripted", f"http://127.0.0.1:{server.port}/repo/", timeout=1), None, "", 0)


@pytest.mark.parametrize("kind", KINDS)
def test_libcurl_takes_only_the_body_served_and_never_a_stray_one(scripted: Scripted, kind: str) -> None:
    fuzz(kind, 1 if kind in WAITED else EXAMPLES_PER_KIND, lambda name, answer: _check(scripted, name, answer))


def _check(scripted: Scripted, name: str, answer: Answer) -> None:
    scripted.script[:] = [(answer.wire(), answer.close)]
    reader = MultiplexedReader(_endpoint(scripted), {"User-Agent": "fuzz"}, limit=LIMIT, keep=2)
    try:
        first = reader.get("file")  # never raises
        after = reader.get("next")
        # never the stray bytes of the answer before; after a server hung up mid-answer the next read may be left
        # to the full transport (None), never answered wrong
        assert after == (200, b"next", None) or (after is None and answer.close), name
    finally:
        reader.close()
    served = (answer.status, answer.body if answer.status == 200 else b"", answer.etag)
    assert first is None or first[:2] == served[:2], name  # never another status or body
    if first is not None:
        assert first == served, name
    if answer.status not in (200, 404):
        assert first is None, name
    if answer.plain and answer.exact:
        assert first == served, name
    FIGURES["hostile answers served to the libcurl reader"] += 1


def test_a_connection_opened_ahead_of_use_carries_the_next_read(scripted: Scripted) -> None:
    reader = MultiplexedReader(_endpoint(scripted), {"User-Agent": "ahead"}, limit=LIMIT, keep=2)
    try:
        with scripted.lock:
            before = scripted.connections
        reader.preconnect()
        deadline = time.monotonic() + 5
        while scripted.connections == before:  # accepted before the read is asked for
            assert time.monotonic() < deadline
            time.sleep(0.01)
        scripted.script[:] = []
        assert reader.get("next") == (200, b"next", None)
        with scripted.lock:
            assert scripted.connections == before + 1 and scripted.arrivals[-1] == before + 1
    finally:
        reader.close()
