"""What a maven2 HTTP server can do beyond GET and PUT, found out once and used for atomic writes.

* **Create-only writes**: a probe at ``.registry/probe-<random>`` PUTs a file twice with ``If-None-Match: *``.
  Apache honours it (``atomic``); Nexus refuses redeploys under "Disable redeploy" (400, also ``atomic``); plain
  nginx ignores it and overwrites (``overwrites``); a server that refuses the probe path (Nexus with a strict
  layout policy) enforces its own policy (``polices-paths``).
* **Atomic folders**: ``MKCOL`` is a mkdir on WebDAV servers, refused when the folder exists, so a version folder
  can be claimed with it.
* **Locks**: ``LOCK``/``UNLOCK`` (Apache mod_dav) serialise rewrites of ``maven-metadata.xml``. Where a server has
  no ``LOCK`` but an atomic ``MKCOL`` (nginx), a hidden folder beside the file is the lock (:func:`folder_lock`):
  without one, two writers there can each read the file before the other writes it, and one loses the other's
  version after both checked theirs was listed.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from registry._util import backoff
from registry.exceptions import RegistryError, RepositoryUnavailable
from registry.repository.http.transport import RoutingTransport

__all__ = [
    "LOCK_TIMEOUT",
    "STALE_FOLDER_LOCK",
    "Behaviour",
    "Locks",
    "ServerTraits",
    "folder_lock",
    "mkcol_parents",
    "probe",
]

#: A folder lock seen held without a break for this long is taken to be a crashed writer's, and removed (seconds;
#: a live writer holds it for a few round trips).
STALE_FOLDER_LOCK = 15.0

_LOCK_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    b"<D:locktype><D:write/></D:locktype><D:owner>registry</D:owner></D:lockinfo>"
)
#: The timeout a ``LOCK`` asks for (seconds): a crashed holder's lock expires by itself after it, and the next
#: writer waits that long for it (a lock whose holder may still be writing is never broken).
LOCK_TIMEOUT = 30


def _lock_headers() -> dict[str, str]:
    return {"Depth": "0", "Timeout": f"Second-{LOCK_TIMEOUT}", "Content-Type": "application/xml"}


Behaviour = Literal["atomic", "overwrites", "polices-paths"]


@dataclass(frozen=True)
class ServerTraits:
    """What the probe found: how a create-only PUT over an existing file is answered, and whether MKCOL of an
    existing folder is refused (then a version directory can be claimed atomically with MKCOL)."""

    put: Behaviour
    mkcol_claims: bool
    #: Whether ``LOCK`` works (``None``: not probed; learnt from the first lock taken).
    locks: bool | None = None


def mkcol_parents(transport: RoutingTransport, path: str) -> None:
    """Create the collections above ``path`` (Apache's mod_dav does not create parents on PUT)."""
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        collection = "/".join(parts[:depth]) + "/"
        response = transport.request("MKCOL", collection)
        # 201 created, 405 it exists. Anything else may be a concurrent MKCOL winning the race (Apache then
        # answers 403): the PUT that follows says whether the folder is really missing.
        if response.status_code == 401:
            raise transport.fail(response, "creating the folder", collection)


def probe(transport: RoutingTransport) -> ServerTraits:
    """Find out how the server treats create-only writes, MKCOL and LOCK, with a throw-away folder."""
    folder = f".registry/probe-{secrets.token_hex(8)}"
    path = f"{folder}/file"
    headers = {"If-None-Match": "*"}
    mkcol_parents(transport, path)
    try:
        first = transport.put(path, b"probe", headers)
        if first.status_code in (401, 403):
            raise transport.fail(first, "writing", path)
        if not 200 <= first.status_code < 300:
            return ServerTraits("polices-paths", mkcol_claims=False)
        second = transport.put(path, b"probe again", headers)
        put: Behaviour = "overwrites" if 200 <= second.status_code < 300 else "atomic"
        mkcol_claims = transport.request("MKCOL", f"{folder}/claim/").status_code == 201 and (
            transport.request("MKCOL", f"{folder}/claim/").status_code in (403, 405, 409)
        )
        return ServerTraits(put, mkcol_claims, _locks(transport, path))
    finally:
        with contextlib.suppress(RegistryError):
            for leftover in (path, f"{folder}/claim/", f"{folder}/"):
                transport.request("DELETE", leftover)


@contextlib.contextmanager
def folder_lock(transport: RoutingTransport, path: str, patience: float) -> Iterator[None]:
    """Hold ``.NAME.lock/`` beside ``path``, made with ``MKCOL`` (a mkdir: only one writer creates it) and removed
    afterwards; one seen held for :data:`STALE_FOLDER_LOCK` seconds without a break is removed as a crashed
    writer's."""
    folder, _, name = path.rpartition("/")
    lock = f"{folder}/.{name}.lock/" if folder else f".{name}.lock/"
    deadline = time.monotonic() + patience
    held_since: float | None = None
    attempt = 0
    while True:
        attempt += 1
        response = transport.request("MKCOL", lock)
        status = response.status_code
        if status == 201:
            break
        if status in (401, 403):
            raise transport.fail(response, "locking", path)
        now = time.monotonic()
        if status == 409:  # the parent folder does not exist yet: create it, then lock
            mkcol_parents(transport, lock.rstrip("/"))
            continue
        if now > deadline:
            raise RepositoryUnavailable(f"{path} in {transport.display} stayed locked by other writers; try again.")
        held_since = held_since or now
        if now - held_since > STALE_FOLDER_LOCK:
            transport.request("DELETE", lock)
            held_since = None
            continue
        backoff(attempt)
    try:
        yield
    finally:
        with contextlib.suppress(RegistryError):
            transport.request("DELETE", lock)


def _locks(transport: RoutingTransport, path: str) -> bool | None:
    """Whether ``LOCK`` works on ``path`` (``None``: it could not be told; the first lock taken will tell)."""
    try:
        locked = transport.request("LOCK", path, data=_LOCK_BODY, headers=_lock_headers())
        token = locked.headers.get("Lock-Token", "").strip().strip("<>")
        if locked.status_code in (200, 201) and token:
            transport.request("UNLOCK", path, headers={"Lock-Token": f"<{token}>"})
            return True
    except RegistryError:
        return None
    return False if locked.status_code in (400, 403, 404, 405, 409, 501) else None


class Locks:
    """Exclusive WebDAV write locks, where the server has them (learnt from the first ``LOCK``)."""

    def __init__(self, transport: RoutingTransport, patience: float, available: bool | None = None) -> None:
        self._transport = transport
        self._patience = patience
        self.available = available  # None: unknown until the first LOCK

    @contextlib.contextmanager
    def hold(self, path: str) -> Iterator[str | None]:
        """Hold an exclusive write lock on ``path``; yields its token, or ``None`` where the server has none."""
        transport = self._transport
        if self.available is False:
            yield None
            return
        deadline = time.monotonic() + self._patience
        attempt = 0
        while True:
            attempt += 1
            response = transport.request("LOCK", path, data=_LOCK_BODY, headers=_lock_headers())
            token = response.headers.get("Lock-Token", "").strip().strip("<>")
            if response.status_code in (200, 201) and token:
                self.available = True
                break
            if response.status_code == 423 and time.monotonic() < deadline:
                backoff(attempt)  # another writer holds it
                continue
            if response.status_code in (401, 403) and self.available is None:
                raise transport.fail(response, "locking", path)
            if response.status_code == 423:
                raise RepositoryUnavailable(
                    f"{path} in {transport.display} stayed locked by another writer; try again."
                )
            self.available = False  # 405, 501, 400...: this server has no WebDAV locking
            yield None
            return
        try:
            yield token
        finally:
            with contextlib.suppress(RegistryError):
                transport.request("UNLOCK", path, headers={"Lock-Token": f"<{token}>"})
