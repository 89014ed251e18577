"""A maven2 repository over HTTP: Nexus 3 and 2, Artifactory, nginx or Apache WebDAV.

It speaks through a :class:`~registry.repository.http.session.RequestsTransport` (retries, timeouts, error mapping),
learns what the server can do with :mod:`~registry.repository.http.webdav`, and reads folder listings with
:mod:`~registry.repository.http.listing`. A create that finds its path taken (412 to ``If-None-Match: *``,
Nexus's 400 "does not allow updating assets", 409) is :class:`~registry.repository.base.PathExists`.

Immutability: on a server that overwrites despite ``If-None-Match`` (plain nginx) a concurrent deploy could
replace another's release, so the ``unsafe_overwrite`` setting decides: ``"refuse"`` (default) stops with an
explanation, ``"warn"`` logs a warning and checks each path with HEAD before writing it (which catches everything
but a true race).
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from registry._util import backoff
from registry.checksums import digest_bytes, file_digest
from registry.exceptions import ArtifactNotFound, RepositoryUnavailable
from registry.repository.base import PathExists, Source, StreamingRepository
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http.listing import names_in_index
from registry.repository.http.request_settings import (
    MAX_SMALL_FILE,
    POOL_SIZE,
    UPLOAD_CONNECTIONS,
    Endpoint,
)
from registry.repository.http.transport import RoutingTransport, replayed
from registry.repository.http.webdav import Locks, ServerTraits, folder_lock, mkcol_parents, probe
from registry.repository.probe_record import ProbeRecord
from registry.repository.read_back import ReadBackCopies

if TYPE_CHECKING:
    import requests

__all__ = ["HttpRepository"]

log = logging.getLogger("registry.repository.http")

#: How long a metadata update keeps trying while other writers hold or change the file.
MAX_UPDATE_SECONDS = 90
_TAKEN = (400, 409, 412)


def _content(answer: tuple[int, bytes, str | None]) -> bytes | None:
    """What a small read's answer says the file holds: ``None`` where it is absent (404)."""
    return None if answer[0] == 404 else answer[1]


class HttpRepository(StreamingRepository):
    """A maven2 repository served over HTTP(S)."""

    #: As many reads at once as the transport keeps connections open (many more go at once through
    #: :meth:`read_files`), and uploads as it opens ahead of a deploy.
    read_width = POOL_SIZE
    write_width = UPLOAD_CONNECTIONS
    config: RepositoryConfig  # always opened from one

    def __init__(
        self,
        config: RepositoryConfig,
        credentials: Credentials | None = None,
        credential_help: str = "",
        *,
        retries: int = 3,
        session_only: bool = False,
    ) -> None:
        self.config = config
        endpoint = Endpoint(config, credentials, credential_help, retries)
        self.transport = RoutingTransport(endpoint, session_only=session_only)
        self.base = self.transport.base
        self.origin = self.base  # without user-info
        self.display = config.display
        self._traits: ServerTraits | None = None
        self._traits_lock = threading.Lock()
        self._warned = False
        self._locks = Locks(self.transport, MAX_UPDATE_SECONDS)
        self._read_back = ReadBackCopies()  # see _after_update

    @classmethod
    def from_config(
        cls, config: RepositoryConfig, credentials: Credentials | None = None, credential_help: str = ""
    ) -> HttpRepository:
        return cls(config, credentials, credential_help)

    def close(self) -> None:
        self.transport.close()

    # -- reading ------------------------------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        kept = self._read_back.take(path)
        return kept if kept is not None else self.transport.get_small(path)[0]

    def read_ahead(self, paths: Sequence[str]) -> None:
        self.transport.read_ahead(list(paths))

    def read_files(self, paths: Sequence[str]) -> list[bytes | None]:
        """All at once on the small-read route where it can (HTTP/2: streams of one connection); the answers it
        does not take, and every read where it cannot, on the threads of :meth:`read_many`."""
        answers = self.transport.get_many(list(paths))
        if answers is None:
            return super().read_files(paths)
        again = [at for at, answer in enumerate(answers) if answer is None]
        contents = [None if answer is None else _content(answer) for answer in answers]
        for at, content in zip(again, self.read_many(self._read_again, [paths[at] for at in again]), strict=True):
            contents[at] = content
        return contents

    def read_files_as_ready(self, paths: Sequence[str]) -> Iterator[list[tuple[int, bytes | None]]]:
        """:meth:`read_files`, each file handed over as soon as its answer has come (HTTP/2: streams of one
        connection); the answers the small-read route does not take are read again last."""
        chunks = self.transport.get_as_ready(list(paths))
        if chunks is None:
            yield from super().read_files_as_ready(paths)
            return
        again: list[int] = []
        for chunk in chunks:
            ready = []
            for at, answer in chunk:
                if answer is None:
                    again.append(at)
                else:
                    ready.append((at, _content(answer)))
            if ready:
                yield ready
        if again:
            yield list(zip(again, self.read_many(self._read_again, [paths[at] for at in again]), strict=True))

    def _read_again(self, path: str) -> bytes | None:
        try:
            return self.transport.full().get_small(path, spent=1)[0]  # the small-read route made one attempt
        except ArtifactNotFound:
            return None

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

    def missing(self) -> bool:
        """Whether the server says the repository's URL does not exist: a GET of its root answers 404 (or 410).

        Asked only on the error path (a module with no metadata, a version with no card), never on a successful
        read. A GET, not a HEAD: servers agree on GET of a folder URL, not on HEAD. What they answer, for an
        existing repository / a missing one: nginx (autoindex) and Apache (mod_dav, ``Options Indexes``) 200 with
        the listing, or 403 where listings are off / 404; Nexus 3 200 (its "not directly browseable" page, or its
        HTML index) / 404 "Repository not found" (answered before any authentication); Artifactory 200 (its
        listing) / 404, though older releases answer 400 for a missing repository, which stays "cannot tell".
        So only 404 and 410 mean missing; 401, 403, redirects and errors cannot tell (``False``).
        """
        with self.transport.request("GET", "", stream=True) as response:
            return response.status_code in (404, 410)

    # -- writing ------------------------------------------------------------------------------------------

    def traits(self) -> ServerTraits:
        """How this server treats create-only writes, MKCOL and LOCK: probed before the first write, then kept
        by this repository and, for :data:`~registry.repository.probe_record.TRAITS_TTL`, in the cache folder
        (:class:`~registry.repository.probe_record.ProbeRecord`, keyed by base URL)."""
        with self._traits_lock:
            if self._traits is None:
                traits = self._known_traits()
                if traits is None:
                    traits = probe(self.transport)
                    log.info("%s: %s", self.display, traits)
                    self._keep_traits(traits)
                self._traits = traits
                if self._locks.available is None:
                    self._locks.available = traits.locks
            return self._traits

    def _known_traits(self) -> ServerTraits | None:
        data = ProbeRecord(self.config.state_dir, self.base).load()
        try:
            traits = ServerTraits(data["put"], bool(data["mkcol_claims"]), data["locks"]) if data else None
        except (KeyError, TypeError):
            return None
        if traits is None or traits.put not in ("atomic", "overwrites", "polices-paths"):
            return None
        return traits if traits.locks in (True, False, None) else None

    def _keep_traits(self, traits: ServerTraits) -> None:
        found = {"put": traits.put, "mkcol_claims": traits.mkcol_claims, "locks": traits.locks}
        ProbeRecord(self.config.state_dir, self.base).save(found)

    def prepare_writes(self) -> None:
        def prepare() -> None:
            with contextlib.suppress(Exception):  # the write that needs it probes again, and raises
                self.traits()

        self.transport.start_helper(prepare)
        self.transport.preconnect(self.write_width)

    def claims_folders(self) -> bool:
        return self.traits().mkcol_claims

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
        response = self.transport.request("MKCOL", collection)
        for attempt in (1, 2, 3):
            if response.status_code != 409:
                break
            # A parent folder is missing (the artifact's first version). Concurrent deployers create the same
            # parents at once, and a server may answer the loser of such a race before the folder is there.
            mkcol_parents(self.transport, directory.rstrip("/"))
            response = self.transport.request("MKCOL", collection)
            if response.status_code == 409:
                backoff(attempt)
        if response.status_code == 201:
            return True
        if response.status_code in (403, 405, 409):  # exists (a concurrent MKCOL may answer 403 as it loses)
            return False
        raise self.transport.fail(response, "claiming", collection)

    def release(self, directory: str) -> None:
        collection = directory.rstrip("/") + "/"
        response = self.transport.request("DELETE", collection)
        if response.status_code not in (200, 202, 204, 404):
            raise self.transport.fail(response, "removing", collection)

    def create_after(self, path: str, source: Source, ready: Callable[[], None] | None) -> None:
        if self._overwrites() and self.exists(path):
            raise PathExists(path, self.display)
        response = self.transport.put(path, source, {"If-None-Match": "*"}, ready)
        if response.status_code == 409 and not self.exists(path):
            mkcol_parents(self.transport, path)  # Apache answers 409 when the parent folder is missing
            response = self.transport.put(path, source, {"If-None-Match": "*"}, ready)
        if 200 <= response.status_code < 300:
            return
        if response.status_code in _TAKEN and replayed(response) and self._holds(path, source):
            return  # the attempt whose answer the server dropped had written it
        if response.status_code in _TAKEN and (response.status_code == 412 or self.exists(path)):
            raise PathExists(path, self.display)
        raise self.transport.fail(response, "writing", path)

    def _holds(self, path: str, source: Source) -> bool:
        """Whether the server's ``path`` is byte for byte ``source``."""
        ours = hashlib.sha256(source).hexdigest() if isinstance(source, bytes) else file_digest(source, "sha256")
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "copy"
            try:
                self.transport.download(path, copy)
            except ArtifactNotFound:
                return False
            return file_digest(copy, "sha256") == ours

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        # A missing file is created with If-None-Match (atomic on servers that honour it). An existing one is
        # rewritten under a WebDAV LOCK where the server has locking (Apache mod_dav), else optimistically with
        # If-Match on its ETag (Nexus, Artifactory), starting over whenever another writer got there first.
        # Optimistic writes alone starve under contention on Apache, whose ETag stays weak (never matching)
        # for a second after every write. Servers honouring neither but with an atomic MKCOL (nginx) rewrite it
        # under a folder lock; any other can lose a concurrent update: the caller reads back and merges again
        # (registry.store.publish).
        traits = self.traits()
        if traits.mkcol_claims and traits.locks is False:  # nginx: a folder lock makes the rewrite atomic
            with folder_lock(self.transport, path, MAX_UPDATE_SECONDS):
                return self._update(path, change, locked=True)
        return self._update(path, change, locked=False)

    def _update(self, path: str, change: Callable[[bytes | None], bytes], *, locked: bool) -> bytes:
        """``locked``: this process holds the folder lock of ``path``."""
        transport = self.transport
        deadline = time.monotonic() + MAX_UPDATE_SECONDS
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            try:
                current, etag = transport.get_small(path)
            except ArtifactNotFound:
                current, etag = None, None
            exclusive = locked
            if current is None:
                content = change(None)
                response = self._put(path, content, {"If-None-Match": "*"}, exclusive)
                if response.status_code == 409:
                    mkcol_parents(transport, path)
                    response = self._put(path, content, {"If-None-Match": "*"}, exclusive)
            else:
                with self._locks.hold(path) as token:
                    if token is not None:
                        exclusive = True
                        current, etag = transport.get_small(path)  # re-read under the lock
                        content = change(current)
                        response = self._put(path, content, {"If": f"(<{token}>)"}, exclusive)
                    elif etag and etag.startswith("W/"):
                        backoff(attempt)
                        continue
                    else:
                        content = change(current)
                        response = self._put(path, content, {"If-Match": etag} if etag else {}, exclusive)
            if 200 <= response.status_code < 300:
                if exclusive:  # written under a lock, sidecars included: what the server now holds
                    self._read_back.keep(path, content)
                else:
                    self._after_update(path, content)
                return content
            if response.status_code not in (412, 423):
                raise transport.fail(response, "updating", path)
            backoff(attempt)
        raise RepositoryUnavailable(
            f"Could not update {path} in {self.display}: other writers kept changing it for "
            f"{MAX_UPDATE_SECONDS} s. Try again."
        )

    def _put(self, path: str, content: bytes, headers: dict[str, str], exclusive: bool) -> requests.Response:
        """PUT ``path``; ``exclusive`` (under a lock no other writer gets past): its sidecars at the same time,
        since nobody else can write between them (a reader may see the two disagree for that round trip)."""
        if not exclusive:
            return self.transport.put(path, content, headers)
        sidecars = list(digest_bytes(content).sidecars())
        with ThreadPoolExecutor(len(sidecars)) as pool:
            writes = [pool.submit(self._replace, f"{path}.{extension}", digest) for extension, digest in sidecars]
            response = self.transport.put(path, content, headers)
            for write in writes:
                write.result()
        return response

    def _after_update(self, path: str, content: bytes) -> None:
        """Write the checksum sidecars of ``path``'s new ``content`` at once, and meanwhile read ``path`` back:
        the next :meth:`read` of it (the caller checking that its change is there) gets that copy, read after
        the write, instead of asking again."""
        sidecars = list(digest_bytes(content).sidecars())
        with ThreadPoolExecutor(len(sidecars) + 1) as pool:
            back = pool.submit(self.transport.get_small, path)
            writes = [pool.submit(self._replace, f"{path}.{extension}", digest) for extension, digest in sidecars]
            for write in writes:
                write.result()
            try:
                read_back = back.result()[0]
            except RepositoryUnavailable:  # e.g. torn by a concurrent writer: the caller reads it again
                return
        self._read_back.keep(path, read_back)

    def _replace(self, path: str, content: bytes) -> None:
        response = self.transport.put(path, content, {})
        if not 200 <= response.status_code < 300:
            raise self.transport.fail(response, "writing", path)

    def removal(self, directory: str) -> Callable[[Sequence[str]], None]:
        """Nexus 3 (a ``.../repository/NAME/`` URL): through its components REST API
        (:mod:`~registry.repository.http.nexus`); any other server: each file's ``DELETE``, once a ``DELETE`` of a
        file that is not there showed the server allows it (404), before anything is written."""
        from registry.repository.http.nexus import nexus_removal, nexus_repository_name

        name = nexus_repository_name(self.base)
        if name is not None:
            return nexus_removal(self, self.transport, name, directory)
        probe = f"{directory}/.registry-delete-probe"
        response = self.transport.request("DELETE", probe)
        if response.status_code in (405, 501):
            raise RepositoryUnavailable(
                f"{self.display} does not allow deleting files (HTTP {response.status_code} to DELETE), so prune "
                "cannot delete versions there: allow DELETE on the server (WebDAV), or delete them on the server "
                "itself. Nothing was changed."
            )
        if response.status_code not in (200, 202, 204, 404):
            error = self.transport.fail(response, "deleting", probe)
            raise type(error)(f"{error} Nothing was changed.")
        return super().removal(directory)

    def delete(self, path: str) -> None:
        response = self.transport.request("DELETE", path)
        if response.status_code not in (200, 202, 204, 404):
            raise self.transport.fail(response, "deleting", path)
