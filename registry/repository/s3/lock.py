"""A lock object around a metadata read-modify-write, for S3-compatible servers that ignore ``If-Match`` (no
compare-and-swap) but honour ``If-None-Match: *`` (atomic creates).

Taking the lock is creating ``.<name>.lock`` beside the file with ``If-None-Match: *``: a 412 means another writer
holds it, and the taker waits and tries again. The lock object holds its owner (host, process and a random token)
and how long it may be held (``expires_after`` seconds); it is released by deleting it, after checking it is
still ours. Its name starts with a dot, so listings (fsck, the catalog) never see it.

**Staleness.** A holder killed while holding it leaves it behind. A lock is stale once the *server's* clock (the
``Date`` of the answer that read it) is more than its ``expires_after`` past its ``LastModified``, the server's
own time of the create: no client clock takes part, so a skewed machine can neither break a live lock early nor
keep a dead one. A stale lock is broken (deleted) and taken again with ``If-None-Match: *``. Breaking is not
atomic on such a server (it cannot delete on a condition): two writers breaking one stale lock at the same moment
can both go on. The read-back and merge of :func:`registry.store.publish` stays behind the lock for that case and
for a holder that outlived ``expires_after``; the lock makes the loss it repairs rare instead of common.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

from registry._util import backoff
from registry.exceptions import RegistryError, RepositoryUnavailable
from registry.repository.s3.errors import code_of

try:
    import botocore.exceptions
except ImportError:  # pragma: no cover - the s3 extra is not installed
    from registry.exceptions import ConfigError

    raise ConfigError("s3:// repositories need boto3: pip install 'spark-model-registry[s3]'.") from None

__all__ = ["LOCK_SECONDS", "WAIT_SECONDS", "lock_path", "locked"]

log = logging.getLogger("registry.repository.s3")

#: How long a lock may be held before another writer may break it (in seconds of the server's clock). A holder
#: reads the file and writes it and its four checksum files: well under a second on any working link.
LOCK_SECONDS = 30.0
#: How long a writer waits for a lock before it gives up.
WAIT_SECONDS = 90.0

_BOTO_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)


def lock_path(path: str) -> str:
    """The lock object of ``path``: ``.<name>.lock`` in the same folder (hidden from listings by its dot)."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}.lock" if folder else f".{name}.lock"


@contextlib.contextmanager
def locked(
    client: Any,
    bucket: str,
    key: str,
    display: str,
    fail: Callable[[Exception, str], RegistryError],
    *,
    path: str = "",
    seconds: float | None = None,
    wait: float | None = None,
) -> Iterator[None]:
    """Hold the lock object ``key`` (``path`` in the repository ``display``) for the ``with`` block, for at most
    ``seconds`` (:data:`LOCK_SECONDS`); ``fail(exc, action)`` makes the error for a request that failed. Raises
    :class:`RepositoryUnavailable` when another writer holds it for longer than ``wait`` (:data:`WAIT_SECONDS`)."""
    seconds = LOCK_SECONDS if seconds is None else seconds
    wait = WAIT_SECONDS if wait is None else wait
    owner = f"{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex}"
    body = json.dumps({"owner": owner, "expires_after": seconds}).encode()
    deadline = time.monotonic() + wait
    attempt = 0
    holder = ""
    while True:
        attempt += 1
        try:
            client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ContentType="application/json")
            break
        except botocore.exceptions.ClientError as exc:
            code, status = code_of(exc)
            if not (status == 412 or (status == 409 and code == "ConditionalRequestConflict")):
                raise fail(exc, "locking") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise fail(exc, "locking") from exc
        holder = _break_if_stale(client, bucket, key, display, fail, owner)
        if holder == owner:  # an earlier attempt of ours, whose answer was lost, created it
            break
        if time.monotonic() > deadline:
            raise RepositoryUnavailable(
                f"{path or key} in {display} is held by another writer ({holder or 'unknown'}) for more than "
                f"{wait:.0f} s; it is broken once it is {seconds:.0f} s old by the server's clock. Try again."
            )
        backoff(attempt)
    try:
        yield
    finally:
        _release(client, bucket, key, owner)


def _break_if_stale(
    client: Any, bucket: str, key: str, display: str, fail: Callable[[Exception, str], RegistryError], ours: str
) -> str:
    """Delete the lock ``key`` if it is stale (see the module's docstring) and not ``ours``; returns its owner as
    recorded."""
    try:
        answer = client.get_object(Bucket=bucket, Key=key)
        data = answer["Body"].read()
    except botocore.exceptions.ClientError as exc:
        if code_of(exc)[0] == "NoSuchKey":
            return ""  # released meanwhile: take it at once
        raise fail(exc, "reading the lock") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise fail(exc, "reading the lock") from exc
    owner, expires_after = _recorded(data)
    if owner == ours:
        return owner
    written = answer.get("LastModified")
    now = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if written is None or now is None:
        return owner
    try:
        # the first Date where a proxy on the way added its own: "Mon, 07 Dec 2026 04:03:35 GMT, Mon, ..."
        age = (parsedate_to_datetime(now.split(" GMT", 1)[0] + " GMT") - written).total_seconds()
    except (TypeError, ValueError):
        return owner
    if age > expires_after:
        log.warning(
            "%s: breaking the stale lock %s of %s (%.0f s old, held for at most %.0f s).",
            display,
            key,
            owner or "an unknown writer",
            age,
            expires_after,
        )
        with contextlib.suppress(*_BOTO_ERRORS):
            client.delete_object(Bucket=bucket, Key=key)
    return owner


def _recorded(data: bytes) -> tuple[str, float]:
    """The owner and ``expires_after`` a lock object records (:data:`LOCK_SECONDS` where it is unreadable)."""
    try:
        fields = json.loads(data)
        owner, seconds = str(fields.get("owner", "")), float(fields.get("expires_after", LOCK_SECONDS))
    except (ValueError, TypeError, AttributeError):
        return "", LOCK_SECONDS
    return owner, seconds if 0 < seconds <= 3600 else LOCK_SECONDS


def _release(client: Any, bucket: str, key: str, owner: str) -> None:
    """Delete the lock if it is still ours (a holder that outlived it may find another writer's there)."""
    try:
        current = _recorded(client.get_object(Bucket=bucket, Key=key)["Body"].read())[0]
        if current == owner:
            client.delete_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as exc:
        if code_of(exc)[0] != "NoSuchKey":  # gone: broken as stale by another writer
            log.warning("Could not release the lock %s (%s); it expires by itself.", key, code_of(exc)[0])
    except botocore.exceptions.BotoCoreError as exc:  # left behind, it goes stale: a warning, not a failure
        log.warning("Could not release the lock %s (%s); it expires by itself.", key, type(exc).__name__)
