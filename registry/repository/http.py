"""A maven2 repository over HTTP: Nexus 3 and 2, Artifactory, nginx or Apache WebDAV.

This is the only module that knows about ``requests``. It translates every failure at the boundary:

    401, 403                         -> AuthenticationFailed (names the repository and where credentials came from)
    404                              -> ArtifactNotFound
    412 / 409 / 400 on a create      -> PathExists (If-None-Match refused, or Nexus "does not allow updating assets")
    5xx, timeouts, refused, resets   -> RepositoryUnavailable (GET and HEAD are retried first, with backoff)

Every request has a connect and a read timeout, so a server that accepts connections and never answers is an
error within the timeout, never a hang. Uploads and downloads are streamed from and to disk.

Immutability: new files are written with ``If-None-Match: *``. Apache honours it; Nexus refuses redeploys
under "Disable redeploy" (400); plain nginx ignores it and overwrites. Before the first create, a probe at
``.registry/probe-<random>`` tells which kind of server this is. On a server that overwrites, a concurrent
deploy could replace another's release, so the ``unsafe_overwrite`` setting decides: ``"refuse"`` (default)
stops with an explanation, ``"warn"`` logs a warning and checks each path with HEAD before writing it (which
catches everything but a true race). A server that refuses the probe path (Nexus with a strict layout
policy) enforces its own policy and is trusted to refuse redeploys.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from registry.checksums import digest_bytes
from registry.config import Credentials, RepositoryConfig, mask_url
from registry.exceptions import (
    ArtifactNotFound,
    AuthenticationFailed,
    ConfigError,
    RegistryError,
    RepositoryUnavailable,
)
from registry.repository.base import PathExists, Repository, Source

__all__ = ["HttpRepository"]

log = logging.getLogger(__name__)

#: Small files (metadata, checksums) are read into memory; nothing legitimate is larger than this.
MAX_SMALL_FILE = 32 << 20
#: How long a metadata update keeps trying while other writers hold or change the file.
MAX_UPDATE_SECONDS = 90
#: The longest a server's ``Retry-After`` makes a retry wait, in seconds.
MAX_RETRY_AFTER = 5.0
_LOCK_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    b"<D:locktype><D:write/></D:locktype><D:owner>registry</D:owner></D:lockinfo>"
)
# A crashed holder's lock expires by itself.
_LOCK_HEADERS = {"Depth": "0", "Timeout": "Second-30", "Content-Type": "application/xml"}
_CHUNK = 1 << 20
_PROGRESS_THRESHOLD = 8 << 20
_TAKEN = (400, 409, 412)

Behaviour = Literal["atomic", "overwrites", "polices-paths"]


@dataclass(frozen=True)
class ServerTraits:
    """What the probe found: how a create-only PUT over an existing file is answered, and whether MKCOL of an
    existing folder is refused (then a version directory can be claimed atomically with MKCOL)."""

    put: Behaviour
    mkcol_claims: bool


class _BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


def _base_url(url: str) -> str:
    """The URL without user-info (credentials go in headers), ending with ``/``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
    except ValueError:
        raise ConfigError(
            f"Repository URL {mask_url(url)!r} is not a valid URL: its host or port cannot be read."
        ) from None
    if not parts.hostname:
        raise ConfigError(f"Repository URL {mask_url(url)!r} has no host.")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


class _Adapter(HTTPAdapter):
    """urllib3 sends file bodies in 16 KiB blocks by default; 1 MiB blocks upload about a third faster."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", _CHUNK)
        super().init_poolmanager(*args, **kwargs)


class _BrokenOff(RepositoryUnavailable):
    """The answer began, then its body broke off."""


class _Retry(Retry):
    """urllib3's Retry with a server's ``Retry-After`` capped (urllib3 obeys up to six hours): a confused or hostile
    server must not park a resolve far beyond its timeouts."""

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), MAX_RETRY_AFTER)


def _retrying_session(attempts: int) -> requests.Session:
    retry = _Retry(
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
    adapter = _Adapter(max_retries=retry, pool_connections=4, pool_maxsize=8)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "registry (maven2 client)"
    # The bytes as stored, which the checksums are of; see HttpRepository._refuse_encoded for why.
    session.headers["Accept-Encoding"] = "identity"
    return session


class _Progress:
    """A file wrapper that reports bytes read to a rich progress bar (only on a terminal, only for big files)."""

    def __init__(self, stream: IO[bytes], advance: Callable[[int], None]) -> None:
        self._stream = stream
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._advance(len(data))
        return data

    def __len__(self) -> int:  # requests uses it for Content-Length
        position = self._stream.tell()
        self._stream.seek(0, 2)
        end = self._stream.tell()
        self._stream.seek(position)
        return end - position


@contextlib.contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    if not sys.stderr.isatty() or (total or 0) < _PROGRESS_THRESHOLD:
        yield lambda _n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


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
        self.base = _base_url(config.url)
        self.display = config.display
        self._credential_help = credential_help
        self._timeout = (min(10.0, config.timeout), config.timeout)
        self._session = _retrying_session(retries)
        if credentials is not None and credentials.token:
            self._session.auth = _BearerAuth(credentials.token)
        elif credentials is not None and credentials.username:
            self._session.auth = (credentials.username, credentials.password or "")
        if config.ca_bundle and not Path(config.ca_bundle).expanduser().exists():
            raise ConfigError(f"The ca_bundle {config.ca_bundle!r} of {self.display} does not exist.")
        self._session.verify = str(Path(config.ca_bundle).expanduser()) if config.ca_bundle else config.verify_tls
        self._traits: ServerTraits | None = None
        self._warned = False
        self._locking: bool | None = None  # unknown until the first LOCK

    def close(self) -> None:
        self._session.close()

    # -- plumbing -----------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base + quote(path, safe="/")

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request; transport failures become RepositoryUnavailable, with the URL masked."""
        kwargs.setdefault("timeout", self._timeout)
        started = time.monotonic()
        try:
            response = self._session.request(method, self._url(path), **kwargs)
        except requests.exceptions.Timeout as exc:
            raise self._no_answer(method, path) from exc
        except requests.exceptions.SSLError as exc:
            raise RepositoryUnavailable(
                f"TLS verification failed for {self.display}: {_reason(exc)}. If the server uses a private CA, set "
                "ca_bundle for the repository in the configuration file."
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            if isinstance(getattr(exc.args[0] if exc.args else None, "reason", None), ReadTimeoutError):
                raise self._no_answer(method, path) from exc  # every retry timed out: it arrives as "max retries"
            raise RepositoryUnavailable(
                f"Cannot reach {self.display} ({_reason(exc)}). Check the URL and your network, then try again."
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise RepositoryUnavailable(f"{method} {path} on {self.display} failed: {_reason(exc)}.") from exc
        log.debug(
            "%s %s -> %s in %.3f s", method, mask_url(response.url), response.status_code, time.monotonic() - started
        )
        return response

    def _no_answer(self, method: str, path: str) -> RepositoryUnavailable:
        return RepositoryUnavailable(
            f"{self.display} did not answer {method} {path} within {self.config.timeout:g} s. Check that the "
            "server is up, or raise the repository's timeout."
        )

    def _fail(self, response: requests.Response, action: str, path: str) -> RegistryError:
        status = response.status_code
        if status in (401, 403):
            verb = "rejected the credentials for" if status == 401 else "does not allow"
            return AuthenticationFailed(
                f"{self.display} {verb} {action} {path} (HTTP {status}): {self._credential_help}"
            )
        if status == 404:
            return ArtifactNotFound(f"{path} does not exist in {self.display}.")
        detail = _body_excerpt(response)
        return RepositoryUnavailable(
            f"{self.display} answered HTTP {status} to {action} {path}{': ' + detail if detail else ''}."
            + (" The server is failing; try again later." if status >= 500 else "")
        )

    # -- reading ------------------------------------------------------------------------------------------

    def _get(self, path: str) -> tuple[bytes, str | None]:
        """GET a small file. A body that breaks off half-way is read again, twice at most: urllib3 retries only
        requests that got no answer, and Apache cuts off a reader when a writer rewrites the file in place."""
        for attempt in (1, 2, 3):
            try:
                return self._get_once(path)
            except _BrokenOff:
                if attempt == 3:
                    raise
        raise AssertionError("unreachable")

    def _get_once(self, path: str) -> tuple[bytes, str | None]:
        with self._request("GET", path, stream=True) as response:
            if response.status_code != 200:
                raise self._fail(response, "reading", path)
            self._refuse_encoded(response, path)
            data = bytearray()
            try:
                for chunk in response.iter_content(_CHUNK):
                    data += chunk
                    if len(data) > MAX_SMALL_FILE:
                        raise RepositoryUnavailable(
                            f"{path} in {self.display} is larger than {MAX_SMALL_FILE} bytes; refusing to read it."
                        )
            except requests.exceptions.RequestException as exc:
                raise _BrokenOff(f"Reading {path} from {self.display} failed: {_reason(exc)}.") from exc
            return bytes(data), response.headers.get("ETag")

    def _refuse_encoded(self, response: requests.Response, path: str) -> None:
        """Refuse a compressed answer to our ``Accept-Encoding: identity``: urllib3 inflates the end of a stream
        without a size limit, so a small compressed body could expand to gigabytes in memory."""
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise RepositoryUnavailable(
                f"{self.display} sent {path} compressed (Content-Encoding {encoding[:40]!r}) although registry asks "
                "for files as they are stored; refusing to unpack it. Check the server or proxy configuration."
            )

    def read(self, path: str) -> bytes:
        return self._get(path)[0]

    def fetch(self, path: str, destination: Path) -> None:
        with self._request("GET", path, stream=True) as response:
            if response.status_code != 200:
                raise self._fail(response, "downloading", path)
            self._refuse_encoded(response, path)
            expected = response.headers.get("Content-Length")
            total = int(expected) if expected and expected.isdigit() else None
            received = 0
            try:
                with destination.open("wb") as out, _progress(f"GET {Path(path).name}", total) as advance:
                    for chunk in response.iter_content(_CHUNK):
                        out.write(chunk)
                        received += len(chunk)
                        advance(len(chunk))
            except requests.exceptions.RequestException as exc:
                destination.unlink(missing_ok=True)
                raise RepositoryUnavailable(
                    f"The download of {path} from {self.display} broke off after {received} bytes ({_reason(exc)}). "
                    "Nothing was kept; try again."
                ) from exc
            if total is not None and received != total:
                destination.unlink(missing_ok=True)
                raise RepositoryUnavailable(
                    f"The download of {path} from {self.display} was cut short ({received} of {total} bytes). "
                    "Nothing was kept; try again."
                )

    def exists(self, path: str) -> bool:
        response = self._request("HEAD", path)
        if response.status_code == 404:
            return False
        if 200 <= response.status_code < 300:
            return True
        raise self._fail(response, "checking", path)

    # -- writing ------------------------------------------------------------------------------------------

    def _put(self, path: str, source: Source, headers: dict[str, str]) -> requests.Response:
        if isinstance(source, bytes):
            return self._request("PUT", path, data=source, headers=headers)
        size = source.stat().st_size
        with source.open("rb") as stream, _progress(f"PUT {Path(path).name}", size) as advance:
            body = _Progress(stream, advance)
            return self._request("PUT", path, data=body, headers={**headers, "Content-Length": str(size)})

    def _mkcol_parents(self, path: str) -> None:
        """Create the collections above ``path`` (Apache's mod_dav does not create parents on PUT)."""
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            collection = "/".join(parts[:depth]) + "/"
            response = self._request("MKCOL", collection)
            # 201 created, 405 it exists. Anything else may be a concurrent MKCOL winning the race (Apache then
            # answers 403): the PUT that follows says whether the folder is really missing.
            if response.status_code == 401:
                raise self._fail(response, "creating the folder", collection)

    def traits(self) -> ServerTraits:
        """How this server treats create-only writes (probed once, before the first write)."""
        if self._traits is None:
            self._traits = self._probe()
            log.info("%s: %s", self.display, self._traits)
        return self._traits

    def _probe(self) -> ServerTraits:
        folder = f".registry/probe-{secrets.token_hex(8)}"
        path = f"{folder}/file"
        headers = {"If-None-Match": "*"}
        self._mkcol_parents(path)
        try:
            first = self._put(path, b"probe", headers)
            if first.status_code in (401, 403):
                raise self._fail(first, "writing", path)
            if not 200 <= first.status_code < 300:
                return ServerTraits("polices-paths", mkcol_claims=False)
            second = self._put(path, b"probe again", headers)
            put: Behaviour = "overwrites" if 200 <= second.status_code < 300 else "atomic"
            # MKCOL is a mkdir on WebDAV servers: atomic, and refused (405) when the folder exists.
            mkcol_claims = self._request("MKCOL", f"{folder}/claim/").status_code == 201 and (
                self._request("MKCOL", f"{folder}/claim/").status_code in (403, 405, 409)
            )
            return ServerTraits(put, mkcol_claims)
        finally:
            with contextlib.suppress(RegistryError):
                for leftover in (path, f"{folder}/claim/", f"{folder}/"):
                    self._request("DELETE", leftover)

    def _refuses_overwrites_badly(self) -> bool:
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
        self._refuses_overwrites_badly()
        if not self.traits().mkcol_claims:
            return True  # the create-only PUT of the version's first file is the claim
        collection = directory.rstrip("/") + "/"
        self._mkcol_parents(directory.rstrip("/"))
        response = self._request("MKCOL", collection)
        if response.status_code == 201:
            return True
        if response.status_code in (403, 405, 409):  # exists (a concurrent MKCOL may answer 403 as it loses)
            return False
        raise self._fail(response, "claiming", collection)

    def create(self, path: str, source: Source) -> None:
        if self._refuses_overwrites_badly() and self.exists(path):
            raise PathExists(path, self.display)
        response = self._put(path, source, {"If-None-Match": "*"})
        if response.status_code == 409 and not self.exists(path):
            self._mkcol_parents(path)  # Apache answers 409 when the parent folder is missing
            response = self._put(path, source, {"If-None-Match": "*"})
        if 200 <= response.status_code < 300:
            return
        if response.status_code in _TAKEN and (response.status_code == 412 or self.exists(path)):
            raise PathExists(path, self.display)
        raise self._fail(response, "writing", path)

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        # A missing file is created with If-None-Match (atomic on servers that honour it). An existing one is
        # rewritten under a WebDAV LOCK where the server has locking (Apache mod_dav), else optimistically with
        # If-Match on its ETag (Nexus, Artifactory), starting over whenever another writer got there first.
        # Optimistic writes alone starve under contention on Apache, whose ETag stays weak (never matching)
        # for a second after every write.
        deadline = time.monotonic() + MAX_UPDATE_SECONDS
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            try:
                current, etag = self._get(path)
            except ArtifactNotFound:
                current, etag = None, None
            if current is None:
                content = change(None)
                response = self._put(path, content, {"If-None-Match": "*"})
                if response.status_code == 409:
                    self._mkcol_parents(path)
                    response = self._put(path, content, {"If-None-Match": "*"})
            else:
                with self._lock(path) as token:
                    if token is not None:
                        current, etag = self._get(path)  # re-read under the lock
                        content = change(current)
                        response = self._put(path, content, {"If": f"(<{token}>)"})
                    elif etag and etag.startswith("W/"):
                        _backoff(attempt)
                        continue
                    else:
                        content = change(current)
                        response = self._put(path, content, {"If-Match": etag} if etag else {})
            if 200 <= response.status_code < 300:
                for extension, digest in digest_bytes(content).sidecars():
                    self._replace(f"{path}.{extension}", digest)
                return content
            if response.status_code not in (412, 423):
                raise self._fail(response, "updating", path)
            _backoff(attempt)
        raise RepositoryUnavailable(
            f"Could not update {path} in {self.display}: other writers kept changing it for "
            f"{MAX_UPDATE_SECONDS} s. Try again."
        )

    @contextlib.contextmanager
    def _lock(self, path: str) -> Iterator[str | None]:
        """Hold an exclusive WebDAV write lock on ``path``; yields ``None`` where the server has no locking."""
        if self._locking is False:
            yield None
            return
        deadline = time.monotonic() + MAX_UPDATE_SECONDS
        attempt = 0
        while True:
            attempt += 1
            response = self._request("LOCK", path, data=_LOCK_BODY, headers=_LOCK_HEADERS)
            token = response.headers.get("Lock-Token", "").strip().strip("<>")
            if response.status_code in (200, 201) and token:
                self._locking = True
                break
            if response.status_code == 423 and time.monotonic() < deadline:
                _backoff(attempt)  # another writer holds it
                continue
            if response.status_code in (401, 403) and self._locking is None:
                raise self._fail(response, "locking", path)
            if response.status_code == 423:
                raise RepositoryUnavailable(f"{path} in {self.display} stayed locked by another writer; try again.")
            self._locking = False  # 405, 501, 400...: this server has no WebDAV locking
            yield None
            return
        try:
            yield token
        finally:
            with contextlib.suppress(RegistryError):
                self._request("UNLOCK", path, headers={"Lock-Token": f"<{token}>"})

    def _replace(self, path: str, content: bytes) -> None:
        response = self._put(path, content, {})
        if not 200 <= response.status_code < 300:
            raise self._fail(response, "writing", path)

    def list(self, directory: str) -> list[str]:
        # The HTML index that nginx and Apache (autoindex), Nexus and Artifactory serve for a folder URL.
        folder = directory.strip("/") + "/" if directory.strip("/") else ""
        with self._request("GET", folder, stream=True) as response:
            if response.status_code == 404:
                return []
            if response.status_code != 200:
                raise self._fail(response, "listing", folder or "/")
            self._refuse_encoded(response, folder or "/")
            data = response.raw.read(MAX_SMALL_FILE + 1, decode_content=True)
        if len(data) > MAX_SMALL_FILE:
            raise RepositoryUnavailable(f"The listing of {folder or '/'} in {self.display} is too large.")
        parser = _LinkParser()
        parser.feed(data.decode("utf-8", errors="replace"))
        prefix = urlsplit(self._url(folder)).path
        names: set[str] = set()
        for href in parser.links:
            path = unquote(urlsplit(href).path)
            if href.startswith(("?", "#")) or not path:
                continue
            if path.startswith("/"):  # absolute links (Nexus): keep those inside this folder
                if not path.startswith(prefix):
                    continue
                path = path[len(prefix) :]
            name = path.rstrip("/")
            if name and "/" not in name and name not in (".", "..") and not name.startswith("."):
                names.add(name + "/" if path.endswith("/") else name)
        return sorted(names)

    def delete(self, path: str) -> None:
        response = self._request("DELETE", path)
        if response.status_code not in (200, 202, 204, 404):
            raise self._fail(response, "deleting", path)


class _LinkParser(HTMLParser):
    """Collects the href of every <a> in an HTML folder index."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links += [value for name, value in attrs if name == "href" and value]


def _backoff(attempt: int) -> None:
    """Sleep with jitter before trying again; grows with the attempt, at most about a second."""
    time.sleep(min(1.0, 0.02 * 2 ** min(attempt, 6)) * (0.5 + random.random()))  # noqa: S311 - jitter


def _reason(exc: BaseException) -> str:
    """A short cause without URLs (which might carry user-info) or nested tracebacks."""
    text = str(exc.__cause__ or exc) if not isinstance(exc, requests.exceptions.Timeout) else "timed out"
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


def _body_excerpt(response: requests.Response) -> str:
    try:
        text = response.text[:300]
    except (requests.exceptions.RequestException, UnicodeDecodeError):
        return ""
    if "<html" in text.lower():
        import re

        text = re.sub(r"<[^>]+>", " ", text)
    # The server's bytes end up on a terminal: no control characters (escape sequences, CR, LF) get through.
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:200]
