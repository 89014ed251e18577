"""What an S3-compatible server does with conditional writes, found once by a probe object and kept in the cache
folder for :data:`TRAITS_TTL` (like the HTTP repositories' probe)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from registry._util import atomic_write
from registry.repository.s3.errors import code_of

try:
    import botocore.exceptions
except ImportError:  # pragma: no cover - the s3 extra is not installed
    from registry.exceptions import ConfigError

    raise ConfigError("s3:// repositories need boto3: pip install 'spark-model-registry[s3]'.") from None

__all__ = ["TRAITS_TTL", "keep", "known", "probe", "traits_file"]

#: How long what the probe found about a server is trusted, kept in the cache folder (in seconds).
TRAITS_TTL = 3600.0


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


def traits_file(state_dir: str | Path | None, origin: str) -> Path | None:
    """Where the verdict on the server ``origin`` is kept, in the cache folder ``state_dir`` (``None``: nowhere)."""
    if not state_dir:
        return None
    name = hashlib.sha256(origin.encode()).hexdigest()[:32]
    return Path(state_dir) / "servers" / f"{name}.json"


def known(file: Path | None, origin: str) -> tuple[bool, bool] | None:
    """The verdict kept in ``file`` for ``origin``, unless it is missing, unreadable or older than TRAITS_TTL."""
    if file is None:
        return None
    try:
        data = json.loads(file.read_bytes())
        if data["origin"] != origin or not 0 <= time.time() - float(data["probed"]) < TRAITS_TTL:
            return None
        creates, swaps = data["creates"], data["swaps"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (creates, swaps) if isinstance(creates, bool) and isinstance(swaps, bool) else None


def keep(file: Path | None, origin: str, traits: tuple[bool, bool]) -> None:
    """Keep the verdict ``traits`` on ``origin`` in ``file`` (silently not, where it cannot be written)."""
    if file is None:
        return
    with contextlib.suppress(OSError):
        file.parent.mkdir(parents=True, exist_ok=True)
        data = {"origin": origin, "probed": time.time(), "creates": traits[0], "swaps": traits[1]}
        atomic_write(file, json.dumps(data).encode())
