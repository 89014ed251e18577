"""Whether a server answers at all: one ``HEAD`` without credentials, for a check made before another program
(Spark's Ivy) is pointed at the server, where that program would wait for ever."""

from __future__ import annotations

import http.client
import ssl
import time
from urllib.parse import urlsplit

__all__ = ["head_answered"]


def head_answered(url: str, timeout: float) -> None:
    """Send ``HEAD`` to the ``http:`` or ``https:`` ``url`` and read the status line of the answer (any status
    counts), all within ``timeout`` seconds. TLS is not verified: only whether the server answers is checked here,
    with no credential sent (trust is the business of the program that uses the server, with its own trust store).

    :raises TimeoutError: no answer within ``timeout``. :raises OSError: the connection was refused or broken, the
        host cannot be found, or the answer is not HTTP.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http or https URL")
    deadline = time.monotonic() + timeout
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.connect()
        if connection.sock is not None:  # the whole check, not each step, is bounded by the timeout
            connection.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        connection.request("HEAD", parts.path or "/", headers={"User-Agent": "registry-reachability"})
        connection.getresponse().close()
    except http.client.HTTPException as exc:
        raise ConnectionError(str(exc) or type(exc).__name__) from exc
    finally:
        connection.close()
