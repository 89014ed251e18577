"""The ``requests`` side of an HTTP repository's transport (:mod:`registry.repository.http.transport` makes it on
first use): one pooled, retrying ``requests`` session, and the translation of every failure at the boundary (the
only code that knows ``requests``)::

    401, 403                         -> AuthenticationFailed (names the repository and where credentials came from)
    404                              -> ArtifactNotFound
    5xx, timeouts, refused, resets   -> RepositoryUnavailable (GET and HEAD are retried first, with backoff)

A server may close a kept-alive connection just as a request goes out on it (Apache's event MPM closes idle ones
when it is busy; load balancers and Jetty close them after an idle timeout): the request gets no answer at all.
Such a request is sent again, whatever its method, :data:`REPLAYS` times at most. Every write registry makes is
conditional (``If-None-Match: *``, ``If-Match``, a MKCOL that fails on an existing folder) or idempotent, so a
request the server did apply before dropping the connection cannot be applied twice: its replay is refused as
taken, and :func:`~registry.repository.http.transport.replayed` tells the caller to look at what the server holds
before calling it a conflict.

Every request has a connect and a read timeout, so a server that accepts connections and never answers is an
error within the timeout, never a hang. Small files are first asked for on the small-read route
(:mod:`registry.repository.http.transport`); only the answers it does not take come here, with the retries that
route spent already counted
(:meth:`~registry.repository.http.requests_session.SpendingAdapter.spending`). Uploads and downloads are streamed
from and to disk, and reported to :mod:`registry.repository.progress`.

The parts: :mod:`~registry.repository.http.requests_session` makes the session,
:mod:`~registry.repository.http.requests_errors` reads its failures, :mod:`~registry.repository.http.upload_gate`
holds back the end of an upload body.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from urllib3 import HTTPConnectionPool
from urllib3.exceptions import ReadTimeoutError

from registry._util import backoff, mask_url
from registry.exceptions import AuthenticationFailed, RegistryError, RepositoryUnavailable, UntrustedCertificate
from registry.repository import progress
from registry.repository.base import Source
from registry.repository.http.request_settings import MAX_SMALL_FILE, Endpoint, not_found
from registry.repository.http.requests_errors import BrokenOff, Dropped, body_excerpt, dropped, read_short_body, reason
from registry.repository.http.requests_session import CHUNK, Authorization, PlainGet, retrying_session
from registry.repository.http.upload_gate import GATE_PATIENCE, CountingBody, Gate, HeldTooLong

__all__ = ["REPLAYS", "RequestsTransport", "reason"]

log = logging.getLogger("registry.repository.http")

#: How many times a request that got no answer because the server dropped the connection is sent again.
REPLAYS = 2


class RequestsTransport:
    """Requests to one repository's base URL through ``requests``, with credentials, timeouts, retries of reads
    and error mapping.

    Thread-safe for concurrent requests: the connection pool holds up to :data:`POOL_SIZE` kept-alive connections.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        config = self.config = endpoint.config
        self.base: str = endpoint.base
        self.display: str = endpoint.display
        self._credential_help = endpoint.credential_help
        self._timeout = endpoint.timeout
        self._session, self._adapter = retrying_session(endpoint.retries)
        if "Authorization" in endpoint.headers:
            self._session.auth = Authorization(endpoint.headers["Authorization"])
        self._session.verify = str(Path(config.ca_bundle).expanduser()) if config.ca_bundle else config.verify_tls
        # Given on each request: requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE override the session's own.
        self._verify = None if self._session.verify is True else self._session.verify
        self._helpers: list[threading.Thread] = []
        self._helpers_lock = threading.Lock()
        self._plain: PlainGet | None = None
        self._plain_lock = threading.Lock()

    def close(self) -> None:
        with self._helpers_lock:
            helpers, self._helpers = self._helpers, []
        for thread in helpers:
            thread.join(self._timeout[0])
        self._session.close()

    def url(self, path: str) -> str:
        return self.base + quote(path, safe="/")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request; transport failures become RepositoryUnavailable, with the URL masked. A request the
        server dropped without an answer is sent again (see the module's notes); one with a streamed body raises
        :class:`Dropped` for its caller to reopen and send again. ``spent``: retries an earlier attempt used up."""
        body = kwargs.get("data")
        if body is None or isinstance(body, bytes | str):
            return self._replaying(method, path, lambda: self._send(method, path, **kwargs))
        return self._send(method, path, **kwargs)

    def _replaying(self, method: str, path: str, send: Callable[[], requests.Response]) -> requests.Response:
        """``send()``, called again (up to :data:`REPLAYS` times) while the server drops the connection unanswered."""
        for attempt in range(1, REPLAYS + 2):
            try:
                response = send()
            except Dropped:
                if attempt > REPLAYS:
                    raise
                log.debug("%s %s: the connection was dropped without an answer; sending it again", method, path)
                backoff(attempt)
                continue
            return _mark_replayed(response) if attempt > 1 else response
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, *, spent: int = 0, **kwargs: Any) -> requests.Response:
        """One request (``spent``: how many of its retries an earlier attempt used up)."""
        kwargs.setdefault("timeout", self._timeout)
        if self._verify is not None:
            kwargs.setdefault("verify", self._verify)
        started = time.monotonic()
        try:
            with self._adapter.spending(spent):
                response = self._session.request(method, self.url(path), **kwargs)
        except requests.exceptions.Timeout as exc:
            raise self._no_answer(method, path) from exc
        except requests.exceptions.SSLError as exc:
            raise self._untrusted(exc) from exc
        except requests.exceptions.ConnectionError as exc:
            if isinstance(getattr(exc.args[0] if exc.args else None, "reason", None), ReadTimeoutError):
                raise self._no_answer(method, path) from exc  # every retry timed out: it arrives as "max retries"
            raise (Dropped if dropped(exc) else RepositoryUnavailable)(
                f"Cannot reach {self.display} ({reason(exc)}). Check the URL and your network, then try again."
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise RepositoryUnavailable(f"{method} {path} on {self.display} failed: {reason(exc)}.") from exc
        log.debug(
            "%s %s -> %s in %.3f s", method, mask_url(response.url), response.status_code, time.monotonic() - started
        )
        return response

    def _plain_get(self) -> PlainGet | None:
        """How the session sends a plain GET; ``None`` where that cannot be told (a setting requests refuses)."""
        with self._plain_lock:
            if self._plain is None:
                try:
                    self._plain = PlainGet(self._session, self.base)
                except Exception:  # requests reports it on the first request
                    return None
            return self._plain

    def prepared(self) -> tuple[dict[str, str] | None, bool | str]:
        """The headers a plain GET is sent with (credentials included, as the session prepares them) and its TLS
        verification, for the small-read route; ``(None, False)`` where that route must not be used: through a
        proxy, without TLS verification (urllib3 warns on every such request), with a client certificate."""
        plain = self._plain_get()
        if plain is None or plain.proxied or plain.verify is False or plain.cert is not None:
            return None, False
        return dict(plain.template.headers), plain.verify

    def _untrusted(self, exc: requests.exceptions.SSLError) -> RepositoryUnavailable:
        cause = reason(exc)
        if "certificate verify failed" not in cause and "hostname mismatch" not in cause.lower():
            return RepositoryUnavailable(f"The TLS connection to {self.display} failed: {cause}.")
        bundle = self.config.ca_bundle
        advice = (
            f"check that the ca_bundle {bundle} holds the CA that signed the server's certificate"
            if bundle
            else "if the server uses a private CA, set ca_bundle for the repository in the configuration file"
        )
        return UntrustedCertificate(f"TLS verification failed for {self.display}: {cause}; {advice}.")

    def _no_answer(self, method: str, path: str) -> RepositoryUnavailable:
        return RepositoryUnavailable(
            f"{self.display} did not answer {method} {path} within {self.config.timeout:g} s. Check that the "
            "server is up, or raise the repository's timeout."
        )

    def fail(self, response: requests.Response, action: str, path: str) -> RegistryError:
        """The error for an unexpected answer to ``action`` (``reading``, ``writing``...) of ``path``."""
        read_short_body(response)
        status = response.status_code
        if status in (401, 403):
            verb = "rejected the credentials for" if status == 401 else "does not allow"
            return AuthenticationFailed(
                f"{self.display} {verb} {action} {path} (HTTP {status}): {self._credential_help}"
            )
        if status == 404:
            return not_found(path, self.display)
        detail = body_excerpt(response)
        return RepositoryUnavailable(
            f"{self.display} answered HTTP {status} to {action} {path}{': ' + detail if detail else ''}."
            + (" The server is failing; try again later." if status >= 500 else "")
        )

    def refuse_encoded(self, response: requests.Response, path: str) -> None:
        """Refuse a compressed answer to our ``Accept-Encoding: identity``: urllib3 inflates the end of a stream
        without a size limit, so a small compressed body could expand to gigabytes in memory."""
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise RepositoryUnavailable(
                f"{self.display} sent {path} compressed (Content-Encoding {encoding[:40]!r}) although registry asks "
                "for files as they are stored; refusing to unpack it. Check the server or proxy configuration."
            )

    def get_small(self, path: str, spent: int = 0) -> tuple[bytes, str | None]:
        """GET a small file and its ETag (``spent``: retries an earlier attempt used up). A body that breaks off
        half-way is read again, twice at most: urllib3 retries only requests that got no answer, and Apache cuts
        off a reader when a writer rewrites the file."""
        for attempt in (1, 2, 3):
            try:
                return self._get_once(path, spent if attempt == 1 else 0)
            except BrokenOff:
                if attempt == 3:
                    raise
        raise AssertionError("unreachable")

    def _get_once(self, path: str, spent: int = 0) -> tuple[bytes, str | None]:
        with self.request("GET", path, stream=True, spent=spent) as response:
            if response.status_code != 200:
                raise self.fail(response, "reading", path)
            self.refuse_encoded(response, path)
            data = bytearray()
            try:
                for chunk in response.iter_content(CHUNK):
                    data += chunk
                    if len(data) > MAX_SMALL_FILE:
                        raise RepositoryUnavailable(
                            f"{path} in {self.display} is larger than {MAX_SMALL_FILE} bytes; refusing to read it."
                        )
            except requests.exceptions.RequestException as exc:
                raise BrokenOff(f"Reading {path} from {self.display} failed: {reason(exc)}.") from exc
            return bytes(data), response.headers.get("ETag")

    def download(self, path: str, destination: Path) -> None:
        """Stream ``path`` into ``destination``; a broken or short download leaves nothing."""
        with self.request("GET", path, stream=True) as response:
            if response.status_code != 200:
                raise self.fail(response, "downloading", path)
            self.refuse_encoded(response, path)
            expected = response.headers.get("Content-Length")
            total = int(expected) if expected and expected.isdigit() else None
            received = 0
            try:
                with destination.open("wb") as out, progress.report(f"GET {Path(path).name}", total) as advance:
                    for chunk in response.iter_content(CHUNK):
                        out.write(chunk)
                        received += len(chunk)
                        advance(len(chunk))
            except requests.exceptions.RequestException as exc:
                destination.unlink(missing_ok=True)
                raise RepositoryUnavailable(
                    f"The download of {path} from {self.display} broke off after {received} bytes ({reason(exc)}). "
                    "Nothing was kept; try again."
                ) from exc
            if total is not None and received != total:
                destination.unlink(missing_ok=True)
                raise RepositoryUnavailable(
                    f"The download of {path} from {self.display} was cut short ({received} of {total} bytes). "
                    "Nothing was kept; try again."
                )

    def put(
        self, path: str, source: Source, headers: dict[str, str], ready: Callable[[], None] | None = None
    ) -> requests.Response:
        """PUT bytes, or a file streamed from disk. With ``ready``, the last byte of the body is sent only once
        ``ready()`` has returned (a server makes a PUT's file visible only when its body is complete); if it
        raises, the upload breaks off and the exception propagates."""
        if isinstance(source, bytes) and ready is None:
            return self.request("PUT", path, data=source, headers=headers)
        gate = Gate(ready) if ready is not None else None
        try:
            return self._put_stream(path, source, headers, gate)
        except HeldTooLong:
            # The rest took longer than a server lets a body stall (Apache's mod_reqtimeout, nginx's
            # client_body_timeout): the upload was broken off (the server keeps nothing) and is sent again,
            # whole, once the rest is in place.
            assert gate is not None
            gate.wait(None)
            return self._put_stream(path, source, headers, None)

    def _put_stream(self, path: str, source: Source, headers: dict[str, str], gate: Gate | None) -> requests.Response:
        return self._replaying("PUT", path, lambda: self._put_once(path, source, headers, gate))

    def _put_once(self, path: str, source: Source, headers: dict[str, str], gate: Gate | None) -> requests.Response:
        size = len(source) if isinstance(source, bytes) else source.stat().st_size
        opened = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
        with opened as stream, progress.report(f"PUT {Path(path).name}", size) as advance:
            body = CountingBody(stream, advance, size, (lambda: gate.wait(GATE_PATIENCE)) if gate else None)
            return self.request("PUT", path, data=body, headers={**headers, "Content-Length": str(size)})

    def preconnect(self, count: int) -> None:
        """Open up to ``count`` kept-alive connections to the server now (in parallel, without a request), so that
        concurrent requests that follow do not each wait for a connection to be set up. Best effort: nothing is
        raised, and nothing is done through a proxy."""
        plain = self._plain_get()
        if plain is None or plain.proxied:
            return
        try:  # the pool a GET would use, with the same TLS settings
            pool = self._adapter.get_connection_with_tls_context(plain.template, plain.verify, None, plain.cert)
            if not isinstance(pool, HTTPConnectionPool):
                return
        except Exception:  # an optimisation only: any failure leaves the pool as it was
            return
        connections = []
        for _ in range(count):
            try:
                connections.append(pool._get_conn(timeout=0))  # urllib3's own pool, as requests uses it
            except Exception:  # every connection is in use
                break

        def connect(connection: Any) -> None:
            try:
                if connection.sock is None:
                    connection.timeout = self._timeout[0]
                    connection.connect()
            except Exception:  # it is opened again (or fails) when used
                connection.close()
            finally:
                pool._put_conn(connection)

        for connection in connections:
            self.start_helper(connect, connection)

    def start_helper(self, target: Callable[..., object], *args: object) -> None:
        """Run best-effort work for the requests to come on a thread of its own; :meth:`close` waits for it, so
        that no thread of ours outlives the repository (a fork while one holds a lock could hang the child)."""
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._helpers_lock:
            self._helpers = [t for t in self._helpers if t.is_alive()] + [thread]
        thread.start()


def _mark_replayed(response: requests.Response) -> requests.Response:
    response.registry_replayed = True  # type: ignore[attr-defined]
    return response
