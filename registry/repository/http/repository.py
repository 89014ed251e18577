"""A maven2 repository over HTTP: Nexus 3 and 2, Artifactory, nginx or Apache WebDAV.

It speaks through a :class:`~registry.repository.http.session.Transport` (retries, timeouts, error mapping),
learns what the server can do with :mod:`~registry.repository.http.webdav`, and reads folder listings with
:mod:`~registry.repository.http.listing`. A create that finds its path taken (412 to ``If-None-Match: *``,
Nexus's 400 "does not allow updating assets", 409) is :class:`~registry.repository.base.PathExists`.

Immutability: on a server that overwrites despite ``If-None-Match`` (plain nginx) a concurrent deploy could
replace another's release, so the ``unsafe_overwrite`` setting decides: ``"refuse"`` (default) stops with an
explanation, ``"warn"`` logs a warning and checks each path with HEAD before writing it (which catches everything
but a true race).
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from registry._util import backoff
from registry.checksums import digest_bytes
from registry.exceptions import ArtifactNotFound, RepositoryUnavailable
from registry.repository.base import PathExists, Repository, Source
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http.listing import names_in_index
from registry.repository.http.session import MAX_SMALL_FILE, Transport
from registry.repository.http.webdav import Locks, ServerTraits, mkcol_parents, probe

__all__ = ["HttpRepository"]

log = logging.getLogger("registry.repository.http")

#: How long a metadata update keeps trying while other writers hold or change the file.
MAX_UPDATE_SECONDS = 90
_TAKEN = (400, 409, 412)


class HttpRepository(Repository):
    """A maven2 repository served over HTTP(S)."""

    def __init__(
        self,
        config: RepositoryConfig,
        credentials: Credentials | None = None,
        credential_help: str = "",
        *,
        retries: int = 3,
    ) -> None:
        self.config = config
        self.transport = Transport(config, credentials, credential_help, retries)
        self.base = self.transport.base
        self.display = config.display
        self._traits: ServerTraits | None = None
        self._traits_lock = threading.Lock()
        self._warned = False
        self._locks = Locks(self.transport, MAX_UPDATE_SECONDS)

    @classmethod
    def from_config(
        cls, config: RepositoryConfig, credentials: Credentials | None = None, credential_help: str = ""
    ) -> HttpRepository:
        return cls(config, credentials, credential_help)

    def close(self) -> None:
        self.transport.close()

    # -- reading ------------------------------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        return self.transport.get_small(path)[0]

    def fetch(self, path: str, destination: Path) -> None:
        self.transport.download(path, destination)

    def exists(self, path: str) -> bool:
        response = self.transport.request("HEAD", path)
        if response.status_code == 404:
            return False
        if 200 <= response.status_code < 300:
            return True
        raise self.transport.fail(response, "checking", path)

    def modified(self, path: str) -> float | None:
        response = self.transport.request("HEAD", path)
        stamp = response.headers.get("Last-Modified") if response.status_code == 200 else None
        try:
            return email.utils.parsedate_to_datetime(stamp).timestamp() if stamp else None
        except (TypeError, ValueError):
            return None

    def list(self, directory: str) -> list[str]:
        folder = directory.strip("/") + "/" if directory.strip("/") else ""
        with self.transport.request("GET", folder, stream=True) as response:
            if response.status_code == 404:
                return []
            if response.status_code != 200:
                raise self.transport.fail(response, "listing", folder or "/")
            self.transport.refuse_encoded(response, folder or "/")
            data = response.raw.read(MAX_SMALL_FILE + 1, decode_content=True)
        if len(data) > MAX_SMALL_FILE:
            raise RepositoryUnavailable(f"The listing of {folder or '/'} in {self.display} is too large.")
        return names_in_index(data.decode("utf-8", errors="replace"), urlsplit(self.transport.url(folder)).path)

    # -- writing ------------------------------------------------------------------------------------------

    def traits(self) -> ServerTraits:
        """How this server treats create-only writes (probed once, before the first write)."""
        with self._traits_lock:
            if self._traits is None:
                self._traits = probe(self.transport)
                log.info("%s: %s", self.display, self._traits)
            return self._traits

    def _overwrites(self) -> bool:
        """Whether this server overwrites despite If-None-Match; raises unless ``unsafe_overwrite = "warn"``."""
        if self.traits().put != "overwrites":
            return False
        if self.config.unsafe_overwrite != "warn":
            raise RepositoryUnavailable(
                f"{self.display} overwrites existing files even when asked not to (If-None-Match: * is ignored), "
                "so a deploy could replace a release. Configure the server to refuse overwrites (Nexus: "
                "Deployment policy 'Disable redeploy'), or set unsafe_overwrite = \"warn\" for this repository to "
                "deploy anyway with a check before each write."
            )
        if not self._warned:
            self._warned = True
            log.warning("%s overwrites existing files; checking each path before writing it.", self.display)
        return True

    def claim(self, directory: str) -> bool:
        self._overwrites()
        if not self.traits().mkcol_claims:
            return True  # the create-only PUT of the version's first file is the claim
        collection = directory.rstrip("/") + "/"
        mkcol_parents(self.transport, directory.rstrip("/"))
        response = self.transport.request("MKCOL", collection)
        if response.status_code == 201:
            return True
        if response.status_code in (403, 405, 409):  # exists (a concurrent MKCOL may answer 403 as it loses)
            return False
        raise self.transport.fail(response, "claiming", collection)

    def create(self, path: str, source: Source) -> None:
        if self._overwrites() and self.exists(path):
            raise PathExists(path, self.display)
        response = self.transport.put(path, source, {"If-None-Match": "*"})
        if response.status_code == 409 and not self.exists(path):
            mkcol_parents(self.transport, path)  # Apache answers 409 when the parent folder is missing
            response = self.transport.put(path, source, {"If-None-Match": "*"})
        if 200 <= response.status_code < 300:
            return
        if response.status_code in _TAKEN and (response.status_code == 412 or self.exists(path)):
            raise PathExists(path, self.display)
        raise self.transport.fail(response, "writing", path)

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        # A missing file is created with If-None-Match (atomic on servers that honour it). An existing one is
        # rewritten under a WebDAV LOCK where the server has locking (Apache mod_dav), else optimistically with
        # If-Match on its ETag (Nexus, Artifactory), starting over whenever another writer got there first.
        # Optimistic writes alone starve under contention on Apache, whose ETag stays weak (never matching)
        # for a second after every write. Servers honouring neither (nginx) can lose a concurrent update: the
        # caller reads back and merges again (registry.store.publish).
        transport = self.transport
        deadline = time.monotonic() + MAX_UPDATE_SECONDS
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            try:
                current, etag = transport.get_small(path)
            except ArtifactNotFound:
                current, etag = None, None
            if current is None:
                content = change(None)
                response = transport.put(path, content, {"If-None-Match": "*"})
                if response.status_code == 409:
                    mkcol_parents(transport, path)
                    response = transport.put(path, content, {"If-None-Match": "*"})
            else:
                with self._locks.hold(path) as token:
                    if token is not None:
                        current, etag = transport.get_small(path)  # re-read under the lock
                        content = change(current)
                        response = transport.put(path, content, {"If": f"(<{token}>)"})
                    elif etag and etag.startswith("W/"):
                        backoff(attempt)
                        continue
                    else:
                        content = change(current)
                        response = transport.put(path, content, {"If-Match": etag} if etag else {})
            if 200 <= response.status_code < 300:
                for extension, digest in digest_bytes(content).sidecars():
                    self._replace(f"{path}.{extension}", digest)
                return content
            if response.status_code not in (412, 423):
                raise transport.fail(response, "updating", path)
            backoff(attempt)
        raise RepositoryUnavailable(
            f"Could not update {path} in {self.display}: other writers kept changing it for "
            f"{MAX_UPDATE_SECONDS} s. Try again."
        )

    def _replace(self, path: str, content: bytes) -> None:
        response = self.transport.put(path, content, {})
        if not 200 <= response.status_code < 300:
            raise self.transport.fail(response, "writing", path)

    def delete(self, path: str) -> None:
        response = self.transport.request("DELETE", path)
        if response.status_code not in (200, 202, 204, 404):
            raise self.transport.fail(response, "deleting", path)
