"""A file's upload: one PutObject (:func:`put_new`), or a large file's multipart upload (:func:`multipart_create`):
its parts in flight at once (each as soon as its bytes are final, when the file is still being written), its
completion conditional (``If-None-Match: *``), and every failure aborting the upload, so that nothing becomes
visible and no parts are left to pay for."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from registry.repository import progress
from registry.repository.base import Source
from registry.repository.growing import GrowingFile
from registry.repository.s3.streams import HeldBack, Reporting, opened

__all__ = ["MULTIPART_THRESHOLD", "PART_CONCURRENCY", "PART_SIZE", "EarlyUploads", "multipart_create", "put_new"]

#: Files up to this size are one PutObject (unless expected larger while still written); larger ones a multipart
#: upload of parts this size (boto3's defaults).
MULTIPART_THRESHOLD = 8 << 20
PART_SIZE = 8 << 20
#: Parts in flight at once, per file.
PART_CONCURRENCY = 8


class EarlyUploads:
    """Multipart uploads created ahead of their file (a deploy's jar, on the build it is claiming), so that the
    ``CreateMultipartUpload`` round trip is off the jar's path: :meth:`begin` creates one on a thread, the file's
    :func:`multipart_create` :meth:`take` s it, and :meth:`abandon` aborts one nobody took (the build was taken by
    another deployer, or the deploy failed before its jar). An upload is invisible until completed, and only
    completed conditionally (``If-None-Match: *``), so one begun on a key that another deployer then wins is never
    seen, and never replaces its file."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket
        self._begun: dict[str, Future[str]] = {}
        self._lock = threading.Lock()

    def begin(self, key: str) -> None:
        """Create a multipart upload of ``key`` in the background (once per key until taken or abandoned)."""
        begun: Future[str] = Future()
        with self._lock:
            if key in self._begun:
                return
            self._begun[key] = begun

        def create() -> None:
            try:
                begun.set_result(self._client.create_multipart_upload(Bucket=self._bucket, Key=key)["UploadId"])
            except BaseException as exc:  # the upload that takes it creates its own, and raises what that raises
                begun.set_exception(exc)

        try:
            threading.Thread(target=create, name="registry-s3-early-upload", daemon=True).start()
        except RuntimeError as exc:  # no thread to be had: the jar's upload creates its own, nothing waits on this
            begun.set_exception(exc)

    def take(self, key: str) -> Future[str] | None:
        """The upload begun for ``key`` (its ID, once created), now the caller's to complete or abort; or None."""
        with self._lock:
            return self._begun.pop(key, None)

    def abandon(self, key: str) -> None:
        """Abort the upload begun for ``key`` if nobody took it (waits for its creation first)."""
        begun = self.take(key)
        if begun is None or begun.exception() is not None:
            return
        with contextlib.suppress(Exception):  # else left incomplete: invisible, as a killed deploy's would be
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=begun.result())


def multipart_create(
    client: Any,
    bucket: str,
    key: str,
    source: GrowingFile,
    size: int | None,
    ready: Callable[[], None] | None,
    begun: Future[str] | None = None,
) -> None:
    """Upload ``source`` (``size`` bytes, ``None``: not known yet) to ``key`` in parts, each as soon as its bytes
    are final, :data:`PART_CONCURRENCY` at a time; wait for ``ready()``, then complete the upload only if ``key``
    does not exist. Raises what boto3 (or ``ready``, or ``source``: :class:`~registry.repository.growing.Abandoned`)
    raised, after aborting the upload. ``begun``: the upload :class:`EarlyUploads` created for ``key`` (if its
    creation failed, one is created here)."""
    upload_id = begun.result() if begun is not None and begun.exception() is None else None
    if upload_id is None:
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


def put_new(client: Any, bucket: str, key: str, source: Source, size: int, ready: Callable[[], None] | None) -> None:
    """One PutObject of ``source`` (``size`` bytes) to ``key`` only if absent (``If-None-Match: *``), its progress
    reported; with ``ready``, the body's end is held back until ``ready()`` has returned (:class:`HeldBack`), so
    ``key`` becomes visible only after it. Raises what ``ready`` raised (the body cut short: nothing is created),
    else what boto3 raised."""
    with opened(source) as body, progress.report(f"PUT {key.rsplit('/', 1)[-1]}", size) as advance:
        reporting = Reporting(body, advance)
        sent = reporting if ready is None else HeldBack(reporting, size, ready)
        try:
            client.put_object(Bucket=bucket, Key=key, Body=sent, IfNoneMatch="*")
        except Exception:
            if isinstance(sent, HeldBack) and sent.failed is not None:
                raise sent.failed from None
            raise
