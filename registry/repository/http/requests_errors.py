"""How the ``requests`` session's failures read in registry's errors: a connection dropped without an answer, a body
that broke off, a short cause without URLs, and an excerpt of a server's error page (the parts of
:class:`~registry.repository.http.session.RequestsTransport`'s error mapping that need no transport)."""

from __future__ import annotations

import http.client
import re

import requests
from urllib3.exceptions import ProtocolError

from registry.exceptions import RepositoryUnavailable

__all__ = ["BrokenOff", "Dropped", "body_excerpt", "dropped", "read_short_body", "reason"]


class BrokenOff(RepositoryUnavailable):
    """The answer began, then its body broke off."""


class Dropped(RepositoryUnavailable):
    """The server closed the connection without answering."""


#: What the socket raises when the server closed or reset the connection before answering.
_DROPS = (http.client.RemoteDisconnected, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


def dropped(exc: requests.exceptions.ConnectionError) -> bool:
    """Whether the request got no answer because the connection was dropped. urllib3 raises a bare ProtocolError
    only for a request it did not retry itself (anything but GET and HEAD)."""
    error = exc.args[0] if exc.args else None
    return isinstance(error, ProtocolError) and any(isinstance(arg, _DROPS) for arg in error.args)


#: OpenSSL's words for a certificate it did not accept.
_VERIFICATION = re.compile(r"certificate verify failed: [^(\'\"]*|Hostname mismatch[^(\'\"]*")


def reason(exc: BaseException) -> str:
    """A short cause without URLs (which might carry user-info) or nested tracebacks."""
    text = str(exc.__cause__ or exc) if not isinstance(exc, requests.exceptions.Timeout) else "timed out"
    verification = _VERIFICATION.search(text)
    if verification:  # what OpenSSL said, without the nested exception reprs around it
        return verification.group(0).rstrip()
    for marker in ("Caused by ", "(Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = text.strip("()'\" ")
    if "timed out" in text:
        return "timed out"
    if "NewConnectionError" in text or "Connection refused" in text:
        return "connection refused"
    if "RemoteDisconnected" in text or "reset" in text.lower():
        return "connection reset by the server"
    return "".join(c if c.isprintable() else " " for c in text[:200])  # it may quote the server: no control codes


#: The longest error page read to keep its connection open (a 404's page is a few hundred bytes).
_SHORT_BODY = 64 << 10


def read_short_body(response: requests.Response) -> None:
    """Read a short, uncompressed error page, so that its connection goes back to the pool: a streamed answer
    closed unread closes its connection, and the next request must open another (a round trip more, across a
    network, for each file a search finds missing)."""
    length = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if length.isdigit() and int(length) <= _SHORT_BODY and encoding == "identity":
        try:
            response.content  # noqa: B018 - read and kept: the connection is then released, not closed
        except requests.exceptions.RequestException:
            return


def body_excerpt(response: requests.Response) -> str:
    try:
        text = response.text[:300]
    except (requests.exceptions.RequestException, UnicodeDecodeError):
        return ""
    if "<html" in text.lower():
        text = re.sub(r"<[^>]+>", " ", text)
    # The server's bytes end up on a terminal: no control characters (escape sequences, CR, LF) get through.
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:200]
