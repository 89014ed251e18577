"""The :class:`S3Repository` (see the package's docstring for what it guarantees)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from registry._util import backoff
from registry.exceptions import ArtifactNotFound, ConfigError, RegistryError, RepositoryUnavailable
from registry.repository import progress
from registry.repository.base import PathExists, Source, StreamingRepository
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.growing import GrowingFile
from registry.repository.read_back import ReadBackCopies, ReadsAhead
from registry.repository.s3 import uploads
from registry.repository.s3.errors import MAX_ATTEMPTS, Where, code_of, failure, retried
from registry.repository.s3.lock import lock_path, locked
from registry.repository.s3.probe import ServerTraits
from registry.repository.s3.sidecars import Sidecars
from registry.repository.s3.streams import as_bytes, holds, md5_etag, multipart_etag, once, shape_bodies
from registry.repository.s3.uploads import MULTIPART_THRESHOLD, PART_SIZE, EarlyUploads, multipart_create, put_new

try:
    import boto3
    import botocore.config
    import botocore.exceptions
except ImportError:  # pragma: no cover - the s3 extra is not installed
    raise ConfigError("s3:// repositories need boto3: pip install 'spark-model-registry[s3]'.") from None

__all__ = ["S3Repository", "parse_s3_url"]

log = logging.getLogger("registry.repository.s3")

#: How long a metadata update keeps trying while other writers change the file.
MAX_UPDATE_SECONDS = 90
#: The largest file ``read`` holds in memory.
MAX_SMALL_FILE = 32 << 20
_ABSENT = object()


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` as ``("bucket", "some/prefix/")`` (``""``: the bucket's root)."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    bucket, _, prefix = rest.partition("/")
    if not bucket or "@" in bucket or ":" in bucket:
        raise ConfigError(
            f"{url!r} is not an s3:// repository URL: write s3://BUCKET or s3://BUCKET/PREFIX (credentials come from "
            "the AWS configuration, never from the URL)."
        )
    prefix = "/".join(part for part in prefix.split("/") if part)
    return bucket, prefix + "/" if prefix else ""


class S3Repository(StreamingRepository):
    """A maven2 repository under a prefix of an S3 bucket."""

    config: RepositoryConfig  # always opened from one
    #: Reads and writes at once (each one request on a connection of the client's pool).
    read_width = 32
    write_width = 16
    uploads_while_written = True

    def __init__(self, config: RepositoryConfig) -> None:
        self.config = config
        self.bucket, self.prefix = parse_s3_url(config.url)
        self.display = config.display
        try:
            self._session = boto3.session.Session(profile_name=config.profile)
        except botocore.exceptions.ProfileNotFound:
            raise ConfigError(
                f"{self.display}: the AWS profile {config.profile!r} is not in the AWS configuration "
                "(~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE)."
            ) from None
        client_config = botocore.config.Config(
            retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
            connect_timeout=config.timeout,
            read_timeout=config.timeout,
            max_pool_connections=S3Repository.read_width + uploads.PART_CONCURRENCY,
            # Our own sidecars verify every file; CRC trailers in aws-chunked bodies break many S3-compatibles.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # TLS as for HTTP repositories: ca_bundle, or verify_tls = false (warned); else boto3's own (AWS_CA_BUNDLE)
        verify: str | bool | None = config.ca_bundle or (None if config.verify_tls else False)
        if verify is False:
            log.warning("TLS verification is disabled for %s by verify_tls = false.", self.display)
        try:
            self.client: Any = self._session.client(
                "s3", endpoint_url=config.endpoint_url, config=client_config, verify=verify
            )
        except ValueError as exc:  # a malformed endpoint_url
            raise ConfigError(f"{self.display}: cannot use endpoint_url {config.endpoint_url!r}: {exc}.") from None
        shape_bodies(self.client.meta.events)
        self.endpoint = str(self.client.meta.endpoint_url)
        self.origin = f"s3://{self.bucket}/{self.prefix} at {self.endpoint}"
        self._where = Where(
            self.display,
            self.bucket,
            self.prefix,
            self.endpoint,
            self.client.meta.region_name,
            self._session,
            config.profile,
        )
        self._traits = ServerTraits(self.client, self.bucket, self.prefix, config.state_dir, self.origin, self._fail)
        self._announced: set[str] = set()
        # What the last read of a mutable file found: (ETag, content), or _ABSENT; a compare-and-swap starts there.
        self._seen: dict[str, tuple[str, bytes] | object] = {}
        self._read_back = ReadBackCopies()  # what a compare-and-swap wrote answers the next read
        self._ahead: ReadsAhead[Future[bytes]] = ReadsAhead()  # reads started ahead (read_ahead)
        self._lock = threading.Lock()
        self._sidecars = Sidecars(self._put, self._head, self._read_tagged)
        self._early = EarlyUploads(self.client, self.bucket)

    @classmethod
    def from_config(
        cls, config: RepositoryConfig, credentials: Credentials | None = None, credential_help: str = ""
    ) -> S3Repository:
        # The HTTP credential chain does not apply: boto3 finds AWS credentials itself.
        return cls(config)

    def close(self) -> None:
        self.client.close()

    def _key(self, path: str) -> str:
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"repository path {path!r} escapes the repository")
        return self.prefix + path

    # -- errors -------------------------------------------------------------------------------------------

    def _fail(self, exc: Exception, action: str, path: str) -> RegistryError:
        """The one clear error for what boto3 raised while ``action`` (reading, writing...) ``path``."""
        return failure(exc, self._where, action, path)

    # -- reading ------------------------------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        kept = self._read_back.take(path)
        if kept is not None:
            return kept
        ahead = self._ahead.take(path)
        return ahead.result() if ahead is not None else self._get(path)

    def read_ahead(self, paths: Sequence[str]) -> None:
        """Start reading these small files now, each on a thread of its own (a cold resolve of an exact version
        reads the yank log while the jar downloads); each answer, or its error, serves the next :meth:`read` of its
        path (:class:`~registry.repository.read_back.ReadsAhead`)."""
        for path in paths:
            future: Future[bytes] = Future()
            self._ahead.keep(path, future, time.monotonic())
            threading.Thread(target=self._get_into, args=(path, future), name="s3-read-ahead", daemon=True).start()

    def _get_into(self, path: str, future: Future[bytes]) -> None:
        try:
            future.set_result(self._get(path))
        except Exception as exc:  # raised by the read it serves
            future.set_exception(exc)

    def _get(self, path: str) -> bytes:
        return self._read_tagged(path)[1]

    def _read_tagged(self, path: str) -> tuple[str, bytes]:
        """``path``'s ETag and content as the server holds them now (remembered where the file is one rewritten).

        :raises ArtifactNotFound: there is no such file.
        """
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
            if response.get("ContentLength", 0) > MAX_SMALL_FILE:
                response["Body"].close()
                raise RepositoryUnavailable(f"{path} in {self.display} is too large to read into memory.")
            data: bytes = response["Body"].read()
        except botocore.exceptions.ClientError as exc:
            if code_of(exc)[0] == "NoSuchKey":
                self._remember(path, _ABSENT)
                raise ArtifactNotFound(f"{path} does not exist in {self.display}.") from None
            raise self._fail(exc, "reading", path) from exc
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._fail(exc, "reading", path) from exc
        seen = (str(response.get("ETag", "")), data)
        self._remember(path, seen)
        return seen

    def _remember(self, path: str, seen: tuple[str, bytes] | object) -> None:
        # the files rewritten (the metadata and the logs beside it): the next compare-and-swap of one starts from this
        # read, not a read of its own (update reads one it was not told of itself)
        if path.endswith(("maven-metadata.xml", "maven-metadata.xml.yanks.json", "maven-metadata.xml.promotions.json")):
            with self._lock:
                self._seen[path] = seen

    def fetch(self, path: str, destination: Path) -> None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
            total = response.get("ContentLength")
            with destination.open("wb") as out, progress.report(f"GET {Path(path).name}", total) as advance:
                for block in response["Body"].iter_chunks(1 << 20):
                    out.write(block)
                    advance(len(block))
        except botocore.exceptions.ClientError as exc:
            if code_of(exc)[0] == "NoSuchKey":
                raise ArtifactNotFound(f"{path} does not exist in {self.display}.") from None
            raise self._fail(exc, "reading", path) from exc
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            destination.unlink(missing_ok=True)
            raise self._fail(exc, "reading", path) from exc

    def _head(self, path: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except botocore.exceptions.ClientError as exc:
            if code_of(exc)[1] == 404:
                return None
            raise self._fail(exc, "checking", path) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail(exc, "checking", path) from exc
        return head

    def exists(self, path: str) -> bool:
        return self._head(path) is not None

    def modified(self, path: str) -> float | None:
        head = self._head(path)
        return head["LastModified"].timestamp() if head and head.get("LastModified") else None

    def list(self, directory: str) -> list[str]:
        folder = self._key(directory.strip("/") + "/") if directory.strip("/") else self.prefix
        names: set[str] = set()
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder, Delimiter="/"
            ):
                names.update(entry["Key"][len(folder) :] for entry in page.get("Contents", ()))
                names.update(entry["Prefix"][len(folder) :] for entry in page.get("CommonPrefixes", ()))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self._fail(exc, "listing", directory or "/") from exc
        return sorted(name for name in names if name and not name.startswith("."))

    # -- what the server does with conditional writes -----------------------------------------------------

    def conditional_writes(self) -> bool:
        """Whether the server honours ``If-None-Match: *`` on PutObject (see :meth:`traits`)."""
        return self.traits()[0]

    def compare_and_swap(self) -> bool:
        """Whether the server honours ``If-Match`` on PutObject (see :meth:`traits`)."""
        return self.traits()[1]

    def traits(self) -> tuple[bool, bool]:
        """Whether the server honours ``If-None-Match: *`` and ``If-Match``: found by a probe object created twice
        and then replaced under a wrong ETag, once per :data:`~registry.repository.probe_record.TRAITS_TTL`, kept in
        the cache folder (:class:`~registry.repository.probe_record.ProbeRecord`)."""
        return self._traits()

    def prepare_writes(self) -> None:
        self._traits.ahead()

    def _overwrites(self) -> bool:
        """Whether creates must check first (the server ignores If-None-Match); raises unless ``unsafe_overwrite =
        "warn"``."""
        if self.conditional_writes():
            return False
        if self.config.unsafe_overwrite != "warn":
            raise RepositoryUnavailable(
                f"{self.display} ignores conditional writes (If-None-Match: * overwrote a probe object), so a deploy "
                "could replace a release. Use a server that honours them (AWS S3, recent MinIO or Ceph), or set "
                'unsafe_overwrite = "warn" for this repository to deploy anyway with a check before each write.'
            )
        self._warn("ignores conditional creates (If-None-Match: *): each file is checked before it is written.")
        return True

    def _warn(self, message: str) -> None:
        self._traits.warn(self.display, message)

    # -- writing ------------------------------------------------------------------------------------------

    def claim(self, directory: str) -> bool:
        self._overwrites()
        return True  # no folders in an object store: the create-only write of the POM is the claim

    def create_after(self, path: str, source: Source, ready: Callable[[], None] | None) -> None:
        if self._overwrites() and self.exists(path):
            raise PathExists(path, self.display)
        size = len(source) if isinstance(source, bytes) else source.stat().st_size
        if size > MULTIPART_THRESHOLD and isinstance(source, Path):
            complete = GrowingFile(source)
            complete.finish()
            self._multipart(path, complete, size, ready)
            return
        if ready is not None:
            ready()
        self._put_new(path, source, size)

    def _put_new(self, path: str, source: Source, size: int, ready: Callable[[], None] | None = None) -> None:
        """PutObject ``source`` only if ``path`` is absent; with ``ready``, the body's end is held back until
        ``ready()`` has returned (:class:`HeldBack`), so ``path`` becomes visible only after it."""
        gate = None if ready is None else once(ready)
        for attempt in (1, 2, 3, 4, 5):
            try:
                put_new(self.client, self.bucket, self._key(path), source, size, gate)
                return
            except botocore.exceptions.ClientError as exc:
                code, status = code_of(exc)
                if status == 409 and code == "ConditionalRequestConflict":  # a concurrent write to it is under way
                    backoff(attempt)
                    continue
                if status == 412:
                    if retried(exc) and self._holds(path, source, lambda: md5_etag(as_bytes(source))):
                        return  # the attempt whose answer was lost had written it
                    raise PathExists(path, self.display) from None
                raise self._fail(exc, "writing", path) from exc
            except (botocore.exceptions.BotoCoreError, OSError) as exc:
                raise self._fail(exc, "writing", path) from exc
        raise RepositoryUnavailable(f"Writing {path} in {self.display} kept conflicting with another write. Try again.")

    def _holds(self, path: str, source: Source, etag: Callable[[], str]) -> bool:
        """Whether ``path`` holds ``source`` (see :func:`holds`)."""
        return holds(self._head(path), source, etag, lambda copy: self.fetch(path, copy))

    def create_growing(self, path: str, growing: GrowingFile, ready: Callable[[], None]) -> None:
        # Its parts travel as soon as their bytes are final (the upload created at once if the file is expected
        # large); a file no larger than one part is one PutObject.
        if growing.expected <= MULTIPART_THRESHOLD and (size := growing.wait_beyond(MULTIPART_THRESHOLD)) is not None:
            # Sent once its checksums are on their way, its end held back until they and the rest are in place.
            growing.wait_settled()
            if self._overwrites() and self.exists(path):
                raise PathExists(path, self.display)
            self._put_new(path, growing.path, size, ready)
            return
        if self._overwrites() and self.exists(path):
            raise PathExists(path, self.display)
        self._multipart(path, growing, None, ready)

    def begin_create(self, path: str, expected: int) -> None:
        # A file larger than a part is a multipart upload: created now, taken by _multipart (see EarlyUploads).
        if expected > MULTIPART_THRESHOLD:
            self._early.begin(self._key(path))

    def abandon_create(self, path: str) -> None:
        self._early.abandon(self._key(path))

    def _multipart(self, path: str, growing: GrowingFile, size: int | None, ready: Callable[[], None] | None) -> None:
        """:func:`multipart_create` (of the upload begun for ``path``, if one was): a 412 on its completion means
        ``path`` exists (ours, if an attempt whose answer was lost wrote it)."""
        source = growing.path
        key = self._key(path)
        try:
            multipart_create(self.client, self.bucket, key, growing, size, ready, self._early.take(key))
        except botocore.exceptions.ClientError as exc:
            if code_of(exc)[1] == 412:
                if retried(exc) and self._holds(path, source, lambda: multipart_etag(source, PART_SIZE)):
                    return
                raise PathExists(path, self.display) from None
            raise self._fail(exc, "writing", path) from exc
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._fail(exc, "writing", path) from exc

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        # Compare-and-swap: start from what the last read of the file found (a deploy read the metadata at its
        # start), write with If-Match on its ETag (If-None-Match where it was absent), and on 412 read it again
        # and start over. A server ignoring If-Match but honouring If-None-Match is written under a lock object
        # (see lock.py); one ignoring both is written plainly: registry.store.publish reads back and merges again
        # until the versions stay listed.
        if not self.compare_and_swap():
            return self._update_without_swap(path, change)
        deadline = time.monotonic() + MAX_UPDATE_SECONDS
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            with self._lock:
                seen = self._seen.pop(path, None)
            if seen is None:
                self._read_back.forget(path)
                try:
                    seen = self._read_tagged(path)
                except ArtifactNotFound:
                    seen = _ABSENT
                with self._lock:
                    self._seen.pop(path, None)
            if isinstance(seen, tuple):
                etag, current = seen
                content = change(current)
                condition = {"IfMatch": etag}
            else:
                content = change(None)
                condition = {"IfNoneMatch": "*"}
            try:
                etag = self._sidecars.put_with(path, content, condition)
            except botocore.exceptions.ClientError as exc:
                code, status = code_of(exc)
                if status in (412, 404) or (status == 409 and code == "ConditionalRequestConflict"):
                    if attempt > 1:
                        backoff(attempt)
                    continue  # the next attempt writes the sidecars again (of what it then writes)
                self._sidecars.repair(path)
                raise self._fail(exc, "updating", path) from exc
            except Exception:
                self._sidecars.repair(path)
                raise
            with self._lock:
                self._seen[path] = (etag, content)
            self._read_back.keep(path, content)
            self._sidecars.write(path, content, etag, written=True)
            return content
        self._sidecars.repair(path)
        raise RepositoryUnavailable(
            f"Could not update {path} in {self.display}: other writers kept changing it for "
            f"{MAX_UPDATE_SECONDS} s. Try again."
        )

    def _update_without_swap(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        """:meth:`update` on a server that ignores If-Match: under a lock object where it honours If-None-Match,
        else plainly (the caller reads back and merges again)."""
        if not self.conditional_writes():
            self._warn(
                "ignores If-Match (compare-and-swap): maven-metadata.xml is updated by reading it back and merging "
                "again until the version stays listed."
            )
            content = change(self._read_fresh_or_none(path))
            # Checked against what the file then holds: a concurrent writer's file may land between ours and our
            # checksums (no lock here), which would otherwise describe a file no longer there.
            self._sidecars.write(path, content, self._put(path, content, {}))
            return content
        if path not in self._announced:
            self._announced.add(path)
            log.info(
                "%s ignores If-Match: %s is updated under the lock object %s.", self.display, path, lock_path(path)
            )
        # A first change of what was last read (a deploy read the metadata at its start) waits, outside the lock, for
        # what the change waits for (the version's files in place): the lock is held for one read and the writes.
        with self._lock:
            seen = self._seen.get(path)
        change(seen[1] if isinstance(seen, tuple) else None if seen is _ABSENT else self._read_fresh_or_none(path))
        lock = lock_path(path)
        with locked(self.client, self.bucket, self._key(lock), self.display, self._failing(path), path=lock):
            content = change(self._read_fresh_or_none(path))
            self._put(path, content, {})
            self._sidecars.write(path, content)
        return content

    def _failing(self, path: str) -> Callable[[Exception, str], RegistryError]:
        return lambda exc, action: self._fail(exc, action, lock_path(path))

    def _read_fresh_or_none(self, path: str) -> bytes | None:
        """The server's ``path`` now (not what this process read back before), or ``None``."""
        self._read_back.forget(path)
        return self._read_or_none(path)

    def _put(self, path: str, content: bytes, condition: dict[str, str]) -> str:
        """PutObject; returns the new ETag. A ClientError is raised as it is when there is a ``condition``."""
        try:
            answer = self.client.put_object(Bucket=self.bucket, Key=self._key(path), Body=content, **condition)
        except botocore.exceptions.ClientError as exc:
            if condition:
                raise
            raise self._fail(exc, "writing", path) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail(exc, "writing", path) from exc
        return str(answer.get("ETag", ""))

    def delete(self, path: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(path))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self._fail(exc, "deleting", path) from exc
