"""What an S3-compatible server does with conditional writes, found once by a probe object and kept in the state
folder for :data:`~registry.repository.probe_record.TRAITS_TTL` (a
:class:`~registry.repository.probe_record.ProbeRecord`, like the HTTP repositories' probe)."""

from __future__ import annotations

import contextlib
from typing import Any

from registry.repository.probe_record import ProbeRecord
from registry.repository.s3.errors import code_of

try:
    import botocore.exceptions
except ImportError:  # pragma: no cover - the s3 extra is not installed
    from registry.exceptions import ConfigError

    raise ConfigError("s3:// repositories need boto3: pip install 'spark-model-registry[s3]'.") from None

__all__ = ["keep", "known", "probe"]


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
