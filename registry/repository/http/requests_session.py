"""The ``requests`` session an HTTP repository's full transport sends through: pooled, retrying reads (with a
server's ``Retry-After`` capped), 1 MiB upload blocks, the credentials on every request, and how it sends a plain
GET (for the small-read route to send the same)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from registry.repository.http.request_settings import POOL_SIZE, USER_AGENT

__all__ = ["CHUNK", "MAX_RETRY_AFTER", "Authorization", "PlainGet", "SpendingAdapter", "retrying_session"]

#: The longest a server's ``Retry-After`` makes a retry wait, in seconds.
MAX_RETRY_AFTER = 5.0
#: The block size of uploads and downloads.
CHUNK = 1 << 20


class Authorization(requests.auth.AuthBase):
    """The credentials' ``Authorization`` header, as
    :func:`~registry.repository.http.request_settings.authorization` makes it (and checks it), on every request."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request


class SpendingAdapter(HTTPAdapter):
    """urllib3 sends file bodies in 16 KiB blocks by default; 1 MiB blocks upload about a third faster.

    A request may have spent some of its retries already (on the small-read route): :meth:`spending` lowers the
    retries of the requests its thread sends meanwhile (``requests`` reads ``max_retries`` on each send)."""

    def __init__(self, **kwargs: Any) -> None:
        self._spent = threading.local()
        super().__init__(**kwargs)

    @property
    def max_retries(self) -> Retry:
        retries: Retry = self._retries
        spent = getattr(self._spent, "count", 0)
        if not spent or not isinstance(retries.total, int):
            return retries
        return retries.new(total=max(0, retries.total - spent))

    @max_retries.setter
    def max_retries(self, value: Retry) -> None:
        self._retries = value

    @contextlib.contextmanager
    def spending(self, spent: int) -> Iterator[None]:
        """Requests sent on this thread within have ``spent`` retries fewer."""
        self._spent.count = spent
        try:
            yield
        finally:
            self._spent.count = 0

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", CHUNK)
        super().init_poolmanager(*args, **kwargs)


class PlainGet:
    """How the session sends a plain GET to the base URL: the request as it prepares it (its headers carry the
    credentials, from the configuration or ``.netrc``), the TLS verification and client certificate it gives it,
    and the proxies the environment names."""

    def __init__(self, session: requests.Session, base: str) -> None:
        merged = session.merge_environment_settings(base, {}, None, session.verify, None)
        self.template = session.prepare_request(requests.Request("GET", base))
        self.verify: bool | str = merged["verify"] if merged["verify"] is not None else True
        self.cert = merged["cert"]
        self.proxies: MutableMapping[str, str] = merged["proxies"]
        self.proxied = bool(requests.utils.select_proxy(base, self.proxies))


class _CappedRetry(Retry):
    """urllib3's Retry with a server's ``Retry-After`` capped (urllib3 obeys up to six hours): a confused or hostile
    server must not park a resolve far beyond its timeouts."""

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), MAX_RETRY_AFTER)


def retrying_session(attempts: int) -> tuple[requests.Session, SpendingAdapter]:
    retry = _CappedRetry(
        total=attempts,
        connect=attempts,  # the request was never sent: safe for every method
        read=attempts,
        status=attempts,
        other=0,
        allowed_methods=frozenset({"GET", "HEAD"}),  # only idempotent reads are retried after being sent
        status_forcelist=(500, 502, 503, 504),
        backoff_factor=0.3,
        backoff_max=5,
        backoff_jitter=0.2,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = SpendingAdapter(max_retries=retry, pool_connections=4, pool_maxsize=POOL_SIZE, pool_block=True)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    # The bytes as stored, which the checksums are of; see RequestsTransport.refuse_encoded for why.
    session.headers["Accept-Encoding"] = "identity"
    return session, adapter
