"""A large file's multipart upload: its parts in flight at once, its completion conditional (``If-None-Match: *``),
and every failure aborting the upload, so that nothing becomes visible and no parts are left to pay for."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from registry.repository import progress

__all__ = ["MULTIPART_THRESHOLD", "PART_CONCURRENCY", "PART_SIZE", "multipart_create"]

#: Files up to this size are one PutObject; larger ones a multipart upload of parts this size (boto3's defaults).
MULTIPART_THRESHOLD = 8 << 20
PART_SIZE = 8 << 20
#: Parts in flight at once, per file.
PART_CONCURRENCY = 8


def multipart_create(
    client: Any, bucket: str, key: str, source: Path, size: int, ready: Callable[[], None] | None
) -> None:
    """Upload ``source`` (``size`` bytes) to ``key`` in parts, :data:`PART_CONCURRENCY` at a time, wait for
    ``ready()``, then complete the upload only if ``key`` does not exist. Raises what boto3 (or ``ready``) raised,
    after aborting the upload."""
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    offsets = range(0, size, PART_SIZE)
    try:
        with progress.report(f"PUT {key.rsplit('/', 1)[-1]}", size) as advance:

            def part(number: int, offset: int) -> dict[str, Any]:
                with source.open("rb") as file:
                    file.seek(offset)
                    data = file.read(PART_SIZE)
                answer = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
                advance(len(data))
                return {"ETag": answer["ETag"], "PartNumber": number}

            with ThreadPoolExecutor(min(PART_CONCURRENCY, len(offsets))) as pool:
                parts = list(pool.map(lambda item: part(item[0] + 1, item[1]), enumerate(offsets)))
        if ready is not None:
            ready()
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
        )
    except BaseException:
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
