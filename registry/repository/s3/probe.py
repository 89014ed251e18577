"""What an S3-compatible server does with conditional writes, found once by a probe object and kept in the state
folder for :data:`~registry.repository.probe_record.TRAITS_TTL` (a
:class:`~registry.repository.probe_record.ProbeRecord`, like the HTTP repositories' probe)."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from registry.exceptions import RegistryError
from registry.repository.probe_record import ProbeRecord
from registry.repository.s3.errors import code_of

try:
    import botocore.exceptions
except ImportError:  # pragma: no cover - the s3 extra is not installed
    from registry.exceptions import ConfigError

    raise ConfigError("s3:// repositories need boto3: pip install 'spark-model-registry[s3]'.") from None

__all__ = ["ServerTraits", "keep", "known", "probe"]

log = logging.getLogger("registry.repository.s3")


class ServerTraits:
    """What the server behind ``client`` does with conditional writes (:func:`probe` under ``prefix`` of
    ``bucket``), found once per process and per :data:`~registry.repository.probe_record.TRAITS_TTL` (kept in
    ``state_dir`` under ``origin``); and the warnings about it, each given once. ``fail`` turns what boto3 raised
    while ``action`` a ``path`` into the one clear error."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str,
        state_dir: str | None,
        origin: str,
        fail: Callable[[Exception, str, str], RegistryError],
    ) -> None:
        self._client, self._bucket, self._prefix = client, bucket, prefix
        self._state_dir, self._origin, self._fail = state_dir, origin, fail
        self._found: tuple[bool, bool] | None = None
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def __call__(self) -> tuple[bool, bool]:
        """Whether the server honours ``If-None-Match: *`` and ``If-Match`` (probed here where not known)."""
        with self._lock:
            if self._found is None:
                found = known(self._state_dir, self._origin)
                if found is None:
                    path = f".registry-probe-{uuid.uuid4().hex}"
                    try:
                        found = probe(self._client, self._bucket, self._prefix + path)
                    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                        raise self._fail(exc, "writing", path) from exc
                    keep(self._state_dir, self._origin, found)
                self._found = found
            return self._found

    def ahead(self) -> None:
        """Find out on a thread, while other requests travel (the write that needs it asks again, and raises)."""

        def find() -> None:
            with contextlib.suppress(Exception):
                self()

        threading.Thread(target=find, name="registry-s3-probe", daemon=True).start()

    def warn(self, display: str, message: str) -> None:
        """Warn ``display`` ``message``, once per process."""
        with self._lock:
            if message in self._warned:
                return
            self._warned.add(message)
        log.warning("%s %s", display, message)


def probe(client: Any, bucket: str, key: str) -> tuple[bool, bool]:
    """Whether the server honours ``If-None-Match: *`` and ``If-Match`` on PutObject: the object ``key`` is created,
    created again, then replaced under a wrong ETag, and deleted. Raises what boto3 raised."""

    def refused(**condition: str) -> bool:
        try:
            client.put_object(Bucket=bucket, Key=key, Body=b"2", **condition)
        except botocore.exceptions.ClientError as exc:
            if code_of(exc)[1] in (409, 412):
                return True
            raise
        return False

    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"1", IfNoneMatch="*")
        return refused(IfNoneMatch="*"), refused(IfMatch='"00000000000000000000000000000000"')
    finally:
        with contextlib.suppress(Exception):
            client.delete_object(Bucket=bucket, Key=key)


def known(state_dir: str | None, origin: str) -> tuple[bool, bool] | None:
    """The verdict kept for the server ``origin`` (a :class:`ProbeRecord` in the state folder), unless it is missing,
    unreadable or older than :data:`TRAITS_TTL`."""
    data = ProbeRecord(state_dir, origin).load() or {}
    creates, swaps = data.get("creates"), data.get("swaps")
    return (creates, swaps) if isinstance(creates, bool) and isinstance(swaps, bool) else None


def keep(state_dir: str | None, origin: str, traits: tuple[bool, bool]) -> None:
    """Keep the verdict ``traits`` on ``origin`` (silently not, where it cannot be written)."""
    ProbeRecord(state_dir, origin).save({"creates": traits[0], "swaps": traits[1]})
