"""A large file's multipart upload: its parts in flight at once (each as soon as its bytes are final, when the file
is still being written), its completion conditional (``If-None-Match: *``), and every failure aborting the upload,
so that nothing becomes visible and no parts are left to pay for."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from registry.repository import progress
from registry.repository.growing import GrowingFile

__all__ = ["MULTIPART_THRESHOLD", "PART_CONCURRENCY", "PART_SIZE", "multipart_create"]

#: Files up to this size are one PutObject (unless expected larger while still written); larger ones a multipart
#: upload of parts this size (boto3's defaults).
MULTIPART_THRESHOLD = 8 << 20
PART_SIZE = 8 << 20
#: Parts in flight at once, per file.
PART_CONCURRENCY = 8


def multipart_create(
    client: Any, bucket: str, key: str, source: GrowingFile, size: int | None, ready: Callable[[], None] | None
) -> None:
    """Upload ``source`` (``size`` bytes, ``None``: not known yet) to ``key`` in parts, each as soon as its bytes
    are final, :data:`PART_CONCURRENCY` at a time; wait for ``ready()``, then complete the upload only if ``key``
    does not exist. Raises what boto3 (or ``ready``, or ``source``: :class:`~registry.repository.growing.Abandoned`)
    raised, after aborting the upload."""
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    pool = ThreadPoolExecutor(PART_CONCURRENCY)
    try:
        with progress.report(f"PUT {key.rsplit('/', 1)[-1]}", size) as advance:

            def part(number: int, start: int, end: int) -> dict[str, Any]:
                with source.path.open("rb") as file:
                    file.seek(start)
                    data = file.read(end - start)
                answer = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
                advance(len(data))
                return {"ETag": answer["ETag"], "PartNumber": number}

            uploads: list[Future[dict[str, Any]]] = []
            for number, start, end in source.parts(PART_SIZE):
                uploads.append(pool.submit(part, number, start, end))
                for upload in uploads:  # a part that failed ends the upload now, not once the file is complete
                    if upload.done():
                        upload.result()
            parts = sorted((upload.result() for upload in uploads), key=lambda item: int(item["PartNumber"]))
        if ready is not None:
            ready()
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
        )
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # no part still in flight when the upload is aborted
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
